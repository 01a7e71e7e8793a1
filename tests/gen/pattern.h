/* pattern.h: the content pattern of ntkd-gendump's test dumps (header-only, shared only
 * between the generator and the tests; libntkd never includes it).
 *
 * The byte at address A is byte (A & 7) of nk_gen_mix(seed ^ (A >> 3)), i.e. every 8-byte
 * aligned quadword at A holds nk_gen_mix(seed ^ (A >> 3)) in little-endian order.
 * A is the physical address for physical data pages and the virtual address for memory a
 * dump carries as virtual ranges (triage data blocks, minidump memory lists). */
#ifndef NTKD_GEN_PATTERN_H
#define NTKD_GEN_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* splitmix64's output finaliser (Steele, Lea, Flood 2014). */
static inline uint64_t nk_gen_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The pattern byte at address addr. */
static inline uint8_t nk_gen_byte(uint64_t seed, uint64_t addr)
{
    return (uint8_t)(nk_gen_mix(seed ^ (addr >> 3)) >> ((addr & 7) * 8));
}

/* The pattern quadword at an 8-byte aligned address (little-endian value). */
static inline uint64_t nk_gen_qword(uint64_t seed, uint64_t addr)
{
    return nk_gen_mix(seed ^ (addr >> 3));
}

/* Fill buf with the pattern bytes of [addr, addr + len). Fast on aligned runs. */
static inline void nk_gen_fill(uint64_t seed, uint64_t addr, void *buf, size_t len)
{
    uint8_t *p = (uint8_t *)buf;
    while (len && (addr & 7)) {
        *p++ = nk_gen_byte(seed, addr++);
        len--;
    }
    while (len >= 8) {
        uint64_t v = nk_gen_mix(seed ^ (addr >> 3));
        uint8_t b[8];
        for (int i = 0; i < 8; i++)
            b[i] = (uint8_t)(v >> (8 * i));
        memcpy(p, b, 8);
        p += 8;
        addr += 8;
        len -= 8;
    }
    while (len) {
        *p++ = nk_gen_byte(seed, addr++);
        len--;
    }
}

/* 1 when buf holds the pattern of [addr, addr + len), else 0. */
static inline int nk_gen_check(uint64_t seed, uint64_t addr, const void *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    for (size_t i = 0; i < len; i++)
        if (p[i] != nk_gen_byte(seed, addr + i))
            return 0;
    return 1;
}

#endif
