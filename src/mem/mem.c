/* mem.c: physical reads through the container's page index, and virtual reads through
 * directly-held ranges or the page tables. */
#include "mem/mem.h"

const uint8_t *nk_phys_ptr(const ntkd_target *t, uint64_t pa, size_t *avail)
{
    uint64_t off;
    if (!nk_phys_page_off(&t->d, pa >> 12, &off)) return NULL;
    off += pa & 0xfff;
    if (!nk_in_bounds(t->file.size, off, 1)) return NULL;
    uint64_t left = 4096 - (pa & 0xfff);
    if (left > t->file.size - off) left = t->file.size - off;
    *avail = (size_t)left;
    return t->file.data + off;
}

nk_status nk_read_phys(ntkd_target *t, uint64_t pa, void *buf, size_t len, size_t *got)
{
    size_t done = 0;
    uint8_t *out = buf;
    while (done < len) {
        if (pa + done < pa) break; /* wrapped past the top of the address space */
        size_t avail;
        const uint8_t *p = nk_phys_ptr(t, pa + done, &avail);
        if (!p) break;
        size_t n = len - done < avail ? len - done : avail;
        memcpy(out + done, p, n);
        done += n;
    }
    if (got) *got = done;
    return done == len ? NTKD_OK : NTKD_E_NOTPRESENT;
}

/* Index of the directly-held range containing va, or -1. */
static ptrdiff_t vrange_find(const nk_dump *d, uint64_t va)
{
    size_t lo = 0, hi = d->nvranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const nk_vrange *r = &d->vranges[mid];
        if (va < r->va) hi = mid;
        else if (va - r->va >= r->size) lo = mid + 1;
        else return (ptrdiff_t)mid;
    }
    return -1;
}

nk_status nk_read_virt(ntkd_target *t, uint64_t va, void *buf, size_t len, size_t *got)
{
    const nk_dump *d = &t->d;
    size_t done = 0;
    uint8_t *out = buf;
    if (!d->is64 && d->kind != NK_KIND_NONE && va > 0xffffffffull) {
        if (got) *got = 0;
        return len ? NTKD_E_NOTPRESENT : NTKD_OK;
    }
    while (done < len) {
        uint64_t cur = va + done;
        if (cur < va) break;
        ptrdiff_t ri = vrange_find(d, cur);
        if (ri >= 0) {
            const nk_vrange *r = &d->vranges[ri];
            uint64_t in = cur - r->va;
            uint64_t n = r->size - in;
            if (n > len - done) n = len - done;
            memcpy(out + done, t->file.data + r->file_off + in, (size_t)n);
            done += (size_t)n;
            continue;
        }
        if (d->paging == NK_PAGING_NONE) break;
        uint64_t pa;
        if (nk_vtop(t, cur, &pa) != NTKD_OK) break;
        size_t avail;
        const uint8_t *p = nk_phys_ptr(t, pa, &avail);
        if (!p) break;
        size_t n = len - done < avail ? len - done : avail;
        uint64_t vleft = 4096 - (cur & 0xfff);
        if (n > vleft) n = (size_t)vleft;
        memcpy(out + done, p, n);
        done += n;
    }
    if (got) *got = done;
    return done == len ? NTKD_OK : NTKD_E_NOTPRESENT;
}

nk_status nk_read_u8(ntkd_target *t, uint64_t va, uint8_t *v) { return nk_read_virt(t, va, v, 1, NULL); }
nk_status nk_read_u16(ntkd_target *t, uint64_t va, uint16_t *v)
{
    uint8_t b[2];
    nk_status st = nk_read_virt(t, va, b, 2, NULL);
    if (st == NTKD_OK) *v = nk_le16(b);
    return st;
}
nk_status nk_read_u32(ntkd_target *t, uint64_t va, uint32_t *v)
{
    uint8_t b[4];
    nk_status st = nk_read_virt(t, va, b, 4, NULL);
    if (st == NTKD_OK) *v = nk_le32(b);
    return st;
}
nk_status nk_read_u64(ntkd_target *t, uint64_t va, uint64_t *v)
{
    uint8_t b[8];
    nk_status st = nk_read_virt(t, va, b, 8, NULL);
    if (st == NTKD_OK) *v = nk_le64(b);
    return st;
}
nk_status nk_read_ptr(ntkd_target *t, uint64_t va, uint64_t *v)
{
    if (t->d.is64) return nk_read_u64(t, va, v);
    uint32_t x;
    nk_status st = nk_read_u32(t, va, &x);
    if (st == NTKD_OK) *v = x;
    return st;
}

/* Public API wrappers. */
ntkd_status ntkd_read_phys(ntkd_target *t, uint64_t pa, void *buf, size_t len, size_t *got)
{
    return nk_read_phys(t, pa, buf, len, got);
}
ntkd_status ntkd_read_virt(ntkd_target *t, uint64_t va, void *buf, size_t len, size_t *got)
{
    return nk_read_virt(t, va, buf, len, got);
}
ntkd_status ntkd_vtop(ntkd_target *t, uint64_t va, uint64_t *pa) { return nk_vtop(t, va, pa); }
