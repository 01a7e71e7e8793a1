/* pe.c: opening a PE image in file or memory layout, its headers and section table, and the
 * bounds-checked reads every other part of the reader goes through. */
#include "image/pe_internal.h"

#include <stdio.h>
#include <stdlib.h>

/* The largest header region read in memory layout before the section table is known. */
#define PE_MAX_HEADERS 0x10000u

/* ---- messages and warnings ----------------------------------------------------------- */

const char *pe_where(const nk_pe *pe, uint32_t rva, char *buf)
{
    if (pe->mem) {
        char a[18];
        snprintf(buf, 48, "va %s", nk_fmt_addr64(a, pe->base + rva));
    } else {
        uint64_t off;
        if (nk_pe_rva_to_offset(pe, rva, &off))
            snprintf(buf, 48, "file offset 0x%llx", (unsigned long long)off);
        else
            snprintf(buf, 48, "rva 0x%x", rva);
    }
    return buf;
}

void pe_warn(nk_pe *pe, const char *fmt, ...)
{
    if (pe->nwarnings >= PE_MAX_WARNINGS) return;
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    char *s = strdup(tmp);
    if (s) pe->warnings[pe->nwarnings++] = s;
}

nk_status pe_remember(nk_pe *pe, char *slot, nk_status st)
{
    if (st != NTKD_OK && pe->ctx) snprintf(slot, 512, "%s", pe->ctx->errmsg);
    return st;
}

nk_status pe_recall(nk_pe *pe, const char *slot, nk_status st)
{
    if (st != NTKD_OK && pe->ctx) snprintf(pe->ctx->errmsg, sizeof pe->ctx->errmsg, "%s", slot);
    return st;
}

size_t nk_pe_warning_count(const nk_pe *pe) { return pe->nwarnings; }
const char *nk_pe_warning(const nk_pe *pe, size_t i) { return i < pe->nwarnings ? pe->warnings[i] : NULL; }

/* ---- rva translation and reads ------------------------------------------------------- */

/* The virtual extent of a section as the loader maps it: VirtualSize (SizeOfRawData when it
 * is 0) rounded up to SectionAlignment, but not into the next section. Computed once, with
 * the sections sorted by rva (a merge sort: tables may be long and hostile) for lookups. */
static bool build_section_index(nk_pe *pe)
{
    size_t n = pe->nsections;
    pe->sec_order = malloc((n ? n : 1) * sizeof *pe->sec_order);
    pe->sec_vext = malloc((n ? n : 1) * sizeof *pe->sec_vext);
    uint32_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!pe->sec_order || !pe->sec_vext || !tmp) {
        free(tmp);
        return false;
    }
    uint32_t *src = pe->sec_order, *dst = tmp;
    for (size_t i = 0; i < n; i++) src[i] = (uint32_t)i;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                dst[o++] = pe->sections[src[b]].rva < pe->sections[src[a]].rva ? src[b++] : src[a++];
            while (a < mid) dst[o++] = src[a++];
            while (b < hi) dst[o++] = src[b++];
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != pe->sec_order) memcpy(pe->sec_order, src, n * sizeof *src);
    free(tmp);
    uint32_t al = pe->hdr.section_align;
    bool align_ok = al >= 0x200 && al <= 0x10000 && (al & (al - 1)) == 0;
    uint64_t next_above = UINT64_MAX; /* rva of the nearest section starting higher */
    for (size_t o = n; o-- > 0;) {
        const nk_pe_section *s = &pe->sections[pe->sec_order[o]];
        if (o + 1 < n && pe->sections[pe->sec_order[o + 1]].rva > s->rva) next_above = pe->sections[pe->sec_order[o + 1]].rva;
        uint64_t v = s->virtual_size ? s->virtual_size : s->raw_size;
        if (align_ok) {
            uint64_t up = (v + al - 1) & ~(uint64_t)(al - 1);
            if (next_above != UINT64_MAX && next_above < (uint64_t)s->rva + up) up = next_above - s->rva;
            if (up > v) v = up;
        }
        pe->sec_vext[pe->sec_order[o]] = v;
    }
    return true;
}

const nk_pe_section *nk_pe_section_of(const nk_pe *pe, uint32_t rva)
{
    size_t n = pe->nsections;
    /* last section (by rva) starting at or below rva; overlapping ones just before it */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pe->sections[pe->sec_order[mid]].rva <= rva) lo = mid + 1;
        else hi = mid;
    }
    for (size_t k = lo, steps = 0; k > 0 && steps < 8; k--, steps++) {
        uint32_t i = pe->sec_order[k - 1];
        const nk_pe_section *s = &pe->sections[i];
        if ((uint64_t)rva < (uint64_t)s->rva + pe->sec_vext[i]) return s;
    }
    return NULL;
}

/* File layout: where the bytes at rva come from. Sets *off (file offset) and *avail (bytes
 * from there that are file-backed); *zeros gets the count of zero-filled bytes when rva lies
 * past the section's raw data. False when rva is in no section and not in the headers. */
static bool file_locate(const nk_pe *pe, uint32_t rva, uint64_t *off, uint64_t *avail, uint64_t *zeros)
{
    *zeros = 0;
    const nk_pe_section *s = nk_pe_section_of(pe, rva);
    if (!s) {
        uint32_t hsz = pe->hdr.size_of_headers;
        if (hsz == 0 || hsz > pe->file.size) hsz = (uint32_t)(pe->file.size < PE_MAX_HEADERS ? pe->file.size : PE_MAX_HEADERS);
        /* the header region ends at the first section */
        for (size_t o = 0; o < pe->nsections; o++) {
            uint32_t r = pe->sections[pe->sec_order[o]].rva;
            if (r > 0) {
                if (r < hsz) hsz = r;
                break;
            }
        }
        if (rva < hsz) {
            *off = rva;
            *avail = hsz - rva;
            return true;
        }
        return false;
    }
    uint64_t in = rva - s->rva;
    uint64_t vext = pe->sec_vext[s - pe->sections];
    uint64_t raw = s->raw_size < vext ? s->raw_size : vext;
    if (in < raw) {
        *off = (uint64_t)s->raw_offset + in;
        *avail = raw - in;
    } else {
        *off = 0;
        *avail = 0;
        *zeros = vext - in;
    }
    return true;
}

bool nk_pe_rva_to_offset(const nk_pe *pe, uint32_t rva, uint64_t *off)
{
    if (pe->mem) return false;
    uint64_t avail, zeros;
    if (!file_locate(pe, rva, off, &avail, &zeros) || avail == 0) return false;
    return *off < pe->file.size;
}

/* Reads without recording a message; *why gets a short reason on failure. */
static nk_status pe_read_raw(nk_pe *pe, uint32_t rva, void *buf, size_t len, size_t *got, const char **why)
{
    uint8_t *dst = buf;
    size_t done = 0;
    *why = "";
    if (pe->mem) {
        if (pe->limit && ((uint64_t)rva >= pe->limit || len > pe->limit - rva)) {
            /* read what lies inside the image, then report the rest as outside it */
            size_t inside = (uint64_t)rva >= pe->limit ? 0 : (size_t)(pe->limit - rva);
            if (inside) {
                size_t g = 0;
                nk_status st = pe->read(pe->user, pe->base + rva, dst, inside, &g);
                done = g < inside ? g : inside;
                if (st != NTKD_OK || done < inside) {
                    if (got) *got = done;
                    *why = "not present in dump";
                    return NTKD_E_NOTPRESENT;
                }
            }
            if (got) *got = done;
            *why = "outside the image (SizeOfImage)";
            return NTKD_E_FORMAT;
        }
        size_t g = 0;
        nk_status st = pe->read(pe->user, pe->base + rva, dst, len, &g);
        if (g > len) g = len;
        if (got) *got = g;
        if (st != NTKD_OK || g < len) {
            *why = "not present in dump";
            return NTKD_E_NOTPRESENT;
        }
        return NTKD_OK;
    }
    int guard = 0;
    while (done < len) {
        if (++guard > 256) { *why = "too many pieces"; break; }
        uint64_t cur = (uint64_t)rva + done;
        if (cur > UINT32_MAX) {
            if (got) *got = done;
            *why = "past the 4 GB image limit";
            return NTKD_E_FORMAT;
        }
        uint64_t off, avail, zeros;
        if (!file_locate(pe, (uint32_t)cur, &off, &avail, &zeros)) {
            if (got) *got = done;
            *why = "in no section";
            return NTKD_E_FORMAT;
        }
        size_t want = len - done;
        if (avail) {
            size_t n = avail < want ? (size_t)avail : want;
            if (!nk_in_bounds(pe->file.size, off, n)) {
                size_t part = off < pe->file.size ? (size_t)(pe->file.size - off) : 0;
                if (part > n) part = n;
                if (part) memcpy(dst + done, pe->file.data + off, part);
                if (got) *got = done + part;
                *why = "past the end of the file";
                return NTKD_E_TRUNCATED;
            }
            memcpy(dst + done, pe->file.data + off, n);
            done += n;
        } else {
            size_t n = zeros < want ? (size_t)zeros : want;
            if (n == 0) break;
            memset(dst + done, 0, n);
            done += n;
        }
    }
    if (got) *got = done;
    if (done < len) {
        if (!**why) *why = "past the end of its section";
        return NTKD_E_FORMAT;
    }
    return NTKD_OK;
}

nk_status nk_pe_read(nk_pe *pe, uint32_t rva, void *buf, size_t len, size_t *got)
{
    const char *why;
    size_t g = 0;
    nk_status st = pe_read_raw(pe, rva, buf, len, &g, &why);
    if (got) *got = g;
    if (st == NTKD_OK) return NTKD_OK;
    char w[48];
    return nk_fail(pe->ctx, st, "%s: %zu bytes at rva 0x%x (%s): %s", pe->name, len, rva, pe_where(pe, rva, w), why);
}

nk_status pe_read_what(nk_pe *pe, uint32_t rva, void *buf, size_t len, const char *what)
{
    const char *why;
    size_t got = 0;
    nk_status st = pe_read_raw(pe, rva, buf, len, &got, &why);
    if (st == NTKD_OK) return NTKD_OK;
    char w[48];
    return nk_fail(pe->ctx, st, "%s: %s (%zu bytes at rva 0x%x, %s): %s", pe->name, what, len, rva,
                   pe_where(pe, rva, w), why);
}

nk_status pe_read_cstr(nk_pe *pe, uint32_t rva, char *dst, size_t max, bool *cut)
{
    size_t n = 0;
    if (cut) *cut = false;
    if (max == 0) return NTKD_E_ARG;
    while (n + 1 < max) {
        uint8_t chunk[64];
        size_t want = sizeof chunk;
        if (want > max - 1 - n) want = max - 1 - n;
        /* do not cross a page in one read: the next page may be missing */
        uint32_t at = rva + (uint32_t)n;
        if ((uint64_t)rva + n > UINT32_MAX) break;
        size_t to_page = 0x1000 - (at & 0xfff);
        if (want > to_page) want = to_page;
        size_t got = 0;
        const char *why;
        nk_status st = pe_read_raw(pe, at, chunk, want, &got, &why);
        for (size_t i = 0; i < got; i++) {
            if (chunk[i] == 0) {
                dst[n] = 0;
                return NTKD_OK;
            }
            dst[n++] = (char)chunk[i];
        }
        if (st != NTKD_OK) {
            dst[n] = 0;
            char w[48];
            return nk_fail(pe->ctx, st, "%s: string at rva 0x%x (%s): %s", pe->name, rva, pe_where(pe, rva, w), why);
        }
    }
    dst[n] = 0;
    if (cut) *cut = true;
    return NTKD_OK;
}

/* ---- header parsing ------------------------------------------------------------------ */

/* Reads header bytes [off, off+len) in either layout (rva == file offset in the headers). */
static nk_status hdr_read(nk_pe *pe, uint32_t off, void *buf, size_t len, const char *what)
{
    if (pe->mem) {
        size_t got = 0;
        nk_status st = pe->read(pe->user, pe->base + off, buf, len, &got);
        if (st != NTKD_OK || got < len) {
            char a[18];
            return nk_fail(pe->ctx, NTKD_E_NOTPRESENT, "%s: %s at va %s (%zu bytes): not present in dump",
                           pe->name, what, nk_fmt_addr64(a, pe->base + off), len);
        }
        return NTKD_OK;
    }
    if (!nk_in_bounds(pe->file.size, off, len))
        return nk_fail(pe->ctx, NTKD_E_TRUNCATED, "%s: %s at file offset 0x%x (%zu bytes) is past the end of the file (0x%llx bytes)",
                       pe->name, what, off, len, (unsigned long long)pe->file.size);
    memcpy(buf, pe->file.data + off, len);
    return NTKD_OK;
}

static nk_status parse_headers(nk_pe *pe)
{
    nk_pe_headers *h = &pe->hdr;
    const char *fn = pe->name;
    uint8_t dos[sizeof(pe_dos_header)];
    nk_status st = hdr_read(pe, 0, dos, sizeof dos, "DOS header");
    if (st != NTKD_OK) return st;
    if (dos[0] != 'M' || dos[1] != 'Z')
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: not a PE image: no MZ signature at offset 0 (found %02x %02x)", fn, dos[0], dos[1]);
    h->nt_offset = nk_le32(dos + offsetof(pe_dos_header, e_lfanew));
    if (h->nt_offset < 4 || h->nt_offset > PE_MAX_HEADERS - 24)
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: e_lfanew 0x%x at offset 0x3c points outside the headers", fn, h->nt_offset);

    uint8_t nt[PE_NT_SIGNATURE_SIZE + sizeof(pe_file_header)];
    st = hdr_read(pe, h->nt_offset, nt, sizeof nt, "NT headers");
    if (st != NTKD_OK) return st;
    if (memcmp(nt, "PE\0\0", 4) != 0)
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: no PE signature at offset 0x%x (e_lfanew)", fn, h->nt_offset);
    const uint8_t *fh = nt + PE_NT_SIGNATURE_SIZE;
    uint32_t fh_off = h->nt_offset + PE_NT_SIGNATURE_SIZE;
    h->machine = nk_le16(fh + offsetof(pe_file_header, Machine));
    h->nsections = nk_le16(fh + offsetof(pe_file_header, NumberOfSections));
    h->timestamp = nk_le32(fh + offsetof(pe_file_header, TimeDateStamp));
    h->symtab_offset = nk_le32(fh + offsetof(pe_file_header, PointerToSymbolTable));
    h->nsymbols = nk_le32(fh + offsetof(pe_file_header, NumberOfSymbols));
    h->opt_size = nk_le16(fh + offsetof(pe_file_header, SizeOfOptionalHeader));
    h->characteristics = nk_le16(fh + offsetof(pe_file_header, Characteristics));

    uint32_t opt_off = fh_off + (uint32_t)sizeof(pe_file_header);
    if (h->opt_size < 2)
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: SizeOfOptionalHeader %u at offset 0x%x: an image needs an optional header",
                       fn, h->opt_size, fh_off + (uint32_t)offsetof(pe_file_header, SizeOfOptionalHeader));
    uint8_t opt[sizeof(pe_optional_header64)];
    memset(opt, 0, sizeof opt);
    size_t optlen = h->opt_size < sizeof opt ? h->opt_size : sizeof opt;
    st = hdr_read(pe, opt_off, opt, optlen, "optional header");
    if (st != NTKD_OK) return st;
    h->magic = nk_le16(opt);
    size_t need, dir_off;
    if (h->magic == PE_MAGIC_PE32PLUS) {
        h->pe32plus = true;
        need = offsetof(pe_optional_header64, DataDirectory);
        dir_off = need;
    } else if (h->magic == PE_MAGIC_PE32) {
        need = offsetof(pe_optional_header32, DataDirectory);
        dir_off = need;
    } else {
        return nk_fail(pe->ctx, NTKD_E_UNSUPPORTED, "%s: optional header magic 0x%x at offset 0x%x is neither PE32 (0x10b) nor PE32+ (0x20b)",
                       fn, h->magic, opt_off);
    }
    if (h->opt_size < need)
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: SizeOfOptionalHeader %u at offset 0x%x is smaller than the %zu bytes a %s header needs",
                       fn, h->opt_size, fh_off + 16u, need, h->pe32plus ? "PE32+" : "PE32");
    h->linker_major = opt[offsetof(pe_optional_header64, MajorLinkerVersion)];
    h->linker_minor = opt[offsetof(pe_optional_header64, MinorLinkerVersion)];
    h->size_of_code = nk_le32(opt + offsetof(pe_optional_header64, SizeOfCode));
    h->entry_rva = nk_le32(opt + offsetof(pe_optional_header64, AddressOfEntryPoint));
    h->base_of_code = nk_le32(opt + offsetof(pe_optional_header64, BaseOfCode));
    if (h->pe32plus) {
        h->image_base = nk_le64(opt + offsetof(pe_optional_header64, ImageBase));
        h->stack_reserve = nk_le64(opt + offsetof(pe_optional_header64, SizeOfStackReserve));
        h->stack_commit = nk_le64(opt + offsetof(pe_optional_header64, SizeOfStackCommit));
        h->heap_reserve = nk_le64(opt + offsetof(pe_optional_header64, SizeOfHeapReserve));
        h->heap_commit = nk_le64(opt + offsetof(pe_optional_header64, SizeOfHeapCommit));
        h->ndirs_declared = nk_le32(opt + offsetof(pe_optional_header64, NumberOfRvaAndSizes));
    } else {
        h->image_base = nk_le32(opt + offsetof(pe_optional_header32, ImageBase));
        h->stack_reserve = nk_le32(opt + offsetof(pe_optional_header32, SizeOfStackReserve));
        h->stack_commit = nk_le32(opt + offsetof(pe_optional_header32, SizeOfStackCommit));
        h->heap_reserve = nk_le32(opt + offsetof(pe_optional_header32, SizeOfHeapReserve));
        h->heap_commit = nk_le32(opt + offsetof(pe_optional_header32, SizeOfHeapCommit));
        h->ndirs_declared = nk_le32(opt + offsetof(pe_optional_header32, NumberOfRvaAndSizes));
    }
    h->section_align = nk_le32(opt + offsetof(pe_optional_header64, SectionAlignment));
    h->file_align = nk_le32(opt + offsetof(pe_optional_header64, FileAlignment));
    h->os_major = nk_le16(opt + offsetof(pe_optional_header64, MajorOperatingSystemVersion));
    h->os_minor = nk_le16(opt + offsetof(pe_optional_header64, MinorOperatingSystemVersion));
    h->image_major = nk_le16(opt + offsetof(pe_optional_header64, MajorImageVersion));
    h->image_minor = nk_le16(opt + offsetof(pe_optional_header64, MinorImageVersion));
    h->subsys_major = nk_le16(opt + offsetof(pe_optional_header64, MajorSubsystemVersion));
    h->subsys_minor = nk_le16(opt + offsetof(pe_optional_header64, MinorSubsystemVersion));
    h->size_of_image = nk_le32(opt + offsetof(pe_optional_header64, SizeOfImage));
    h->size_of_headers = nk_le32(opt + offsetof(pe_optional_header64, SizeOfHeaders));
    h->checksum = nk_le32(opt + offsetof(pe_optional_header64, CheckSum));
    h->subsystem = nk_le16(opt + offsetof(pe_optional_header64, Subsystem));
    h->dll_characteristics = nk_le16(opt + offsetof(pe_optional_header64, DllCharacteristics));

    uint32_t room = (uint32_t)((h->opt_size - dir_off) / sizeof(pe_data_directory));
    h->ndirs = h->ndirs_declared;
    if (h->ndirs > NK_PE_NDIRS) {
        pe_warn(pe, "%s: NumberOfRvaAndSizes %u is more than 16; reading 16", fn, h->ndirs_declared);
        h->ndirs = NK_PE_NDIRS;
    }
    if (h->ndirs > room) {
        pe_warn(pe, "%s: NumberOfRvaAndSizes %u does not fit SizeOfOptionalHeader %u; reading %u", fn,
                h->ndirs_declared, h->opt_size, room);
        h->ndirs = room;
    }
    for (uint32_t i = 0; i < h->ndirs; i++) {
        size_t o = dir_off + i * sizeof(pe_data_directory);
        if (o + 8 > optlen) break;
        h->dirs[i].rva = nk_le32(opt + o);
        h->dirs[i].size = nk_le32(opt + o + 4);
    }

    /* section table */
    uint64_t sec_off = (uint64_t)opt_off + h->opt_size;
    uint64_t sec_len = (uint64_t)h->nsections * sizeof(pe_section_header);
    if (sec_off + sec_len > PE_MAX_HEADERS + 0x100000ull)
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: section table at offset 0x%llx (%u sections) lies past any header region",
                       fn, (unsigned long long)sec_off, h->nsections);
    if (h->nsections) {
        uint8_t *tab = malloc((size_t)sec_len);
        if (!tab) return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
        st = hdr_read(pe, (uint32_t)sec_off, tab, (size_t)sec_len, "section table");
        if (st != NTKD_OK) {
            free(tab);
            return st;
        }
        pe->sections = calloc(h->nsections, sizeof *pe->sections);
        if (!pe->sections) {
            free(tab);
            return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
        }
        for (uint32_t i = 0; i < h->nsections; i++) {
            const uint8_t *s = tab + i * sizeof(pe_section_header);
            nk_pe_section *d = &pe->sections[i];
            nk_copy_cstr(d->name, sizeof d->name, s, 8);
            d->virtual_size = nk_le32(s + offsetof(pe_section_header, VirtualSize));
            d->rva = nk_le32(s + offsetof(pe_section_header, VirtualAddress));
            d->raw_size = nk_le32(s + offsetof(pe_section_header, SizeOfRawData));
            d->raw_offset = nk_le32(s + offsetof(pe_section_header, PointerToRawData));
            d->characteristics = nk_le32(s + offsetof(pe_section_header, Characteristics));
            if (!pe->mem && d->raw_size && !nk_in_bounds(pe->file.size, d->raw_offset, d->raw_size))
                pe_warn(pe, "%s: section %s (header at offset 0x%llx): raw data 0x%x+0x%x runs past the end of the file (0x%llx)",
                        fn, d->name, (unsigned long long)(sec_off + i * sizeof(pe_section_header)), d->raw_offset,
                        d->raw_size, (unsigned long long)pe->file.size);
        }
        pe->nsections = h->nsections;
        free(tab);
        if (!build_section_index(pe)) return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
    } else {
        pe_warn(pe, "%s: the image has no sections", fn);
    }
    if (h->size_of_image == 0) pe_warn(pe, "%s: SizeOfImage is 0", fn);
    return NTKD_OK;
}

/* ---- open / close -------------------------------------------------------------------- */

static nk_pe *pe_new(ntkd_ctx *ctx, const char *name)
{
    if (!ctx) return NULL;
    nk_pe *pe = calloc(1, sizeof *pe);
    if (!pe) return NULL;
    pe->ctx = ctx;
    pe->file.fd = -1;
    const char *b = strrchr(name, '/');
    pe->name = strdup(b ? b + 1 : name);
    if (!pe->name) {
        free(pe);
        return NULL;
    }
    return pe;
}

static nk_status pe_finish(nk_pe *pe, nk_pe **out)
{
    nk_status st = parse_headers(pe);
    if (st != NTKD_OK) {
        nk_pe_close(pe);
        return st;
    }
    if (pe->mem) {
        pe->limit = pe->hdr.size_of_image ? pe->hdr.size_of_image : pe->size_hint;
        if (pe->size_hint && pe->hdr.size_of_image && pe->size_hint != pe->hdr.size_of_image)
            pe_warn(pe, "%s: SizeOfImage 0x%x differs from the module size 0x%llx", pe->name, pe->hdr.size_of_image,
                    (unsigned long long)pe->size_hint);
    }
    *out = pe;
    return NTKD_OK;
}

nk_status nk_pe_open_file(ntkd_ctx *ctx, const char *path, nk_pe **out)
{
    *out = NULL;
    nk_pe *pe = pe_new(ctx, path);
    if (!pe) return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", path);
    nk_status st = nk_file_map(ctx, path, &pe->file);
    if (st != NTKD_OK) {
        pe->file.fd = -1;
        nk_pe_close(pe);
        return st;
    }
    return pe_finish(pe, out);
}

nk_status nk_pe_open_buf(ntkd_ctx *ctx, const char *name, const uint8_t *data, size_t size, nk_pe **out)
{
    *out = NULL;
    nk_pe *pe = pe_new(ctx, name ? name : "image");
    if (!pe) return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", name ? name : "image");
    pe->file.data = data;
    pe->file.size = size;
    pe->file.borrowed = true;
    return pe_finish(pe, out);
}

nk_status nk_pe_open_mem(ntkd_ctx *ctx, const char *name, uint64_t base, uint64_t size_hint, nk_pe_read_fn read,
                         void *user, nk_pe **out)
{
    *out = NULL;
    if (!read) return nk_fail(ctx, NTKD_E_ARG, "%s: no memory reader", name ? name : "image");
    nk_pe *pe = pe_new(ctx, name ? name : "image");
    if (!pe) return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", name ? name : "image");
    pe->mem = true;
    pe->base = base;
    pe->size_hint = size_hint;
    pe->read = read;
    pe->user = user;
    return pe_finish(pe, out);
}

void nk_pe_close(nk_pe *pe)
{
    if (!pe) return;
    pe_exports_free(pe);
    pe_debug_free(pe);
    pe_version_free(pe);
    pe_funcs_free(pe);
    if (!pe->mem && (pe->file.path || pe->file.fd >= 0)) nk_file_unmap(&pe->file);
    for (size_t i = 0; i < pe->nwarnings; i++) free(pe->warnings[i]);
    free(pe->sections);
    free(pe->sec_order);
    free(pe->sec_vext);
    free(pe->name);
    free(pe);
}

/* ---- accessors ----------------------------------------------------------------------- */

const char *nk_pe_name(const nk_pe *pe) { return pe->name; }
bool nk_pe_is_mem_layout(const nk_pe *pe) { return pe->mem; }
uint64_t nk_pe_base(const nk_pe *pe) { return pe->mem ? pe->base : pe->hdr.image_base; }
const nk_pe_headers *nk_pe_hdr(const nk_pe *pe) { return &pe->hdr; }
size_t nk_pe_section_count(const nk_pe *pe) { return pe->nsections; }
const nk_pe_section *nk_pe_section_at(const nk_pe *pe, size_t i) { return i < pe->nsections ? &pe->sections[i] : NULL; }

const char *nk_pe_machine_name(uint16_t machine)
{
    switch (machine) {
    case NK_PE_MACHINE_I386: return "x86";
    case NK_PE_MACHINE_AMD64: return "x64";
    case NK_PE_MACHINE_ARM64: return "ARM64";
    case NK_PE_MACHINE_ARMNT: return "ARM";
    }
    return "?";
}

const char *nk_pe_subsystem_name(uint16_t s)
{
    switch (s) {
    case 1: return "Native";
    case 2: return "Windows GUI";
    case 3: return "Windows CUI";
    case 5: return "OS/2 CUI";
    case 7: return "POSIX CUI";
    case 9: return "Windows CE GUI";
    case 10: return "EFI application";
    case 11: return "EFI boot service driver";
    case 12: return "EFI runtime driver";
    case 13: return "EFI ROM";
    case 14: return "Xbox";
    case 16: return "Windows boot application";
    }
    return "?";
}

char *nk_pe_image_key(const nk_pe *pe, char *buf)
{
    snprintf(buf, 24, "%08X%x", pe->hdr.timestamp, pe->hdr.size_of_image);
    return buf;
}

nk_status pe_read_array(nk_pe *pe, uint32_t rva, size_t elem, size_t n, void *out, uint8_t *present, const char *what)
{
    uint8_t *dst = out;
    if (n == 0) return NTKD_OK;
    if (elem == 0 || n > SIZE_MAX / elem || (uint64_t)rva + (uint64_t)n * elem > (uint64_t)UINT32_MAX + 1)
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: %s at rva 0x%x: %zu entries run past the 4 GB image limit", pe->name, what, rva, n);
    const char *why;
    size_t got;
    nk_status st = pe_read_raw(pe, rva, dst, n * elem, &got, &why);
    if (st == NTKD_OK) {
        if (present) memset(present, 1, n);
        return NTKD_OK;
    }
    if (st != NTKD_E_NOTPRESENT || !present) {
        char w[48];
        return nk_fail(pe->ctx, st, "%s: %s (%zu entries of %zu bytes at rva 0x%x, %s): %s", pe->name, what, n, elem, rva,
                       pe_where(pe, rva, w), why);
    }
    /* memory layout with holes: read page by page, then element by element where a page fails */
    size_t missing = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t at = rva + (uint32_t)(i * elem);
        size_t to_page = 0x1000 - (at & 0xfff);
        size_t cnt = to_page / elem;
        if (cnt == 0) cnt = 1;
        if (cnt > n - i) cnt = n - i;
        st = pe_read_raw(pe, at, dst + i * elem, cnt * elem, &got, &why);
        if (st == NTKD_OK) {
            memset(present + i, 1, cnt);
        } else {
            for (size_t k = 0; k < cnt; k++) {
                uint32_t a2 = rva + (uint32_t)((i + k) * elem);
                bool ok = pe_read_raw(pe, a2, dst + (i + k) * elem, elem, &got, &why) == NTKD_OK;
                present[i + k] = ok;
                if (!ok) {
                    memset(dst + (i + k) * elem, 0, elem);
                    missing++;
                }
            }
        }
        i += cnt;
    }
    if (!missing) return NTKD_OK;
    char w[48];
    return nk_fail(pe->ctx, NTKD_E_NOTPRESENT, "%s: %s at %s: %zu of %zu entries not present in dump", pe->name, what,
                   pe_where(pe, rva, w), missing, n);
}

nk_status pe_read_quiet(nk_pe *pe, uint32_t rva, void *buf, size_t len)
{
    const char *why;
    size_t got;
    return pe_read_raw(pe, rva, buf, len, &got, &why);
}
