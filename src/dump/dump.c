/* dump.c: opening a target (detection by signature), warnings, .dumpdebug fields, and the
 * physical page index shared by all kernel containers. */
#include "dump/dump.h"

#include <stdio.h>
#include <stdlib.h>

#include "mem/mem.h"

const char *nk_arch_name(nk_arch a)
{
    switch (a) {
    case NK_ARCH_X86: return "x86";
    case NK_ARCH_X64: return "x64";
    case NK_ARCH_ARM64: return "ARM64";
    default: return "unknown";
    }
}

const char *nk_kind_name(nk_dump_kind k)
{
    switch (k) {
    case NK_KIND_KERNEL_FULL: return "Full kernel dump";
    case NK_KIND_KERNEL_SUMMARY: return "Kernel summary dump";
    case NK_KIND_KERNEL_TRIAGE: return "Mini kernel dump";
    case NK_KIND_KERNEL_BITMAP: return "Kernel bitmap dump";
    case NK_KIND_USER_MINI: return "User mini dump";
    case NK_KIND_RAW: return "Raw physical memory image";
    case NK_KIND_IMAGE: return "PE image";
    default: return "unknown";
    }
}

void nk_warn(ntkd_target *t, const char *fmt, ...)
{
    if (t->nwarnings >= 1000) return; /* a hostile file must not grow this without bound */
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!nk_grow((void **)&t->warnings, &t->cap_warnings, t->nwarnings + 1, sizeof(char *)))
        return;
    char *s = strdup(buf);
    if (s) t->warnings[t->nwarnings++] = s;
}

void *nk_target_ext(ntkd_target *t, unsigned slot, size_t size, void (*free_fn)(void *))
{
    if (!t || slot >= sizeof t->ext / sizeof t->ext[0]) return NULL;
    if (!t->ext[slot]) {
        void *s = calloc(1, size);
        if (!s) return NULL;
        t->ext[slot] = s;
        t->ext_free[slot] = free_fn;
    }
    return t->ext[slot];
}

void nk_dump_field(ntkd_target *t, const char *section, const char *name, uint64_t off,
                   uint64_t value, uint8_t width, const char *text)
{
    nk_dump *d = &t->d;
    if (!nk_grow((void **)&d->fields, &d->cap_fields, d->nfields + 1, sizeof *d->fields)) return;
    nk_hdr_field *f = &d->fields[d->nfields++];
    memset(f, 0, sizeof *f);
    f->section = section;
    snprintf(f->name, sizeof f->name, "%s", name);
    f->offset = off;
    f->value = value;
    f->width = width;
    f->text = text ? strdup(text) : NULL;
}

void nk_dump_blob(ntkd_target *t, const char *tag, uint64_t off, uint64_t size)
{
    nk_dump *d = &t->d;
    if (!nk_grow((void **)&d->blobs, &d->cap_blobs, d->nblobs + 1, sizeof *d->blobs)) return;
    nk_blob *b = &d->blobs[d->nblobs++];
    memset(b, 0, sizeof *b);
    snprintf(b->tag, sizeof b->tag, "%s", tag);
    b->file_off = off;
    b->size = size;
}

uint32_t nk_exception_decode(const uint8_t *p, size_t len, bool is64, nk_exception *out)
{
    const size_t hdr = is64 ? NK_EXR64_HDR : NK_EXR32_HDR, psz = is64 ? 8 : 4;
    memset(out, 0, sizeof *out);
    if (len < hdr) return 0;
    out->present = true;
    out->code = nk_le32(p);
    out->flags = nk_le32(p + 4);
    out->record = is64 ? nk_le64(p + 8) : nk_le32(p + 8);
    out->address = is64 ? nk_le64(p + 0x10) : nk_le32(p + 0xc);
    uint32_t np = nk_le32(p + (is64 ? 0x18 : 0x10));
    out->nparams = np > 15 ? 15 : np;
    uint32_t have = (uint32_t)((len - hdr) / psz);
    if (have > out->nparams) have = out->nparams;
    for (uint32_t i = 0; i < have; i++)
        out->params[i] = is64 ? nk_le64(p + hdr + 8 * i) : nk_le32(p + hdr + 4 * i);
    return have;
}

#define RANK_BLOCK_BITS 512u

nk_status nk_physmap_index_bitmap(ntkd_target *t)
{
    nk_physmap *p = &t->d.phys;
    p->nblocks = (p->nbits + RANK_BLOCK_BITS - 1) / RANK_BLOCK_BITS;
    free(p->rank);
    p->rank = calloc(p->nblocks + 1, sizeof *p->rank);
    if (!p->rank)
        return nk_fail(t->ctx, NTKD_E_NOMEM, "%s: no memory for a bitmap of %llu pages",
                       nk_file_name(&t->file), (unsigned long long)p->nbits);
    uint64_t total = 0;
    const uint64_t nbytes = (p->nbits + 7) / 8;
    const uint64_t full = p->nbits / 8; /* bytes whose 8 bits all lie inside nbits */
    for (uint64_t b = 0; b < p->nblocks; b++) {
        p->rank[b] = total;
        uint64_t start = b * (RANK_BLOCK_BITS / 8);
        uint64_t end = start + RANK_BLOCK_BITS / 8;
        if (end > nbytes) end = nbytes;
        uint64_t i = start;
        for (; i + 8 <= end && i + 8 <= full; i += 8)
            total += (uint64_t)__builtin_popcountll(nk_le64(p->bitmap + i));
        for (; i < end; i++) {
            uint8_t byte = p->bitmap[i];
            if (i >= full) byte &= (uint8_t)((1u << (p->nbits & 7)) - 1); /* the partial last byte */
            total += (uint64_t)__builtin_popcount(byte);
        }
    }
    p->rank[p->nblocks] = total;
    uint64_t room = t->file.size > p->data_off ? (t->file.size - p->data_off) / 4096 : 0;
    p->npresent = total;
    if (total > room) {
        nk_warn(t, "%s: bitmap at 0x%llx marks %llu pages present but the file holds %llu from "
                "offset 0x%llx; pages past the end of the file read as not present",
                nk_file_name(&t->file), (unsigned long long)(p->bitmap - t->file.data),
                (unsigned long long)total, (unsigned long long)room,
                (unsigned long long)p->data_off);
        p->npresent = room;
    }
    return NTKD_OK;
}

static int run_cmp(const void *a, const void *b)
{
    const nk_phys_run *x = a, *y = b;
    return x->base_pfn < y->base_pfn ? -1 : x->base_pfn > y->base_pfn;
}

nk_status nk_physmap_check_runs(ntkd_target *t)
{
    nk_physmap *p = &t->d.phys;
    const char *fn = nk_file_name(&t->file);
    size_t out = 0, npast = 0, first_past = 0;
    uint64_t past_pages = 0;
    for (size_t i = 0; i < p->nruns; i++) {
        nk_phys_run r = p->runs[i];
        if (r.page_count == 0) continue;
        if (r.base_pfn > (UINT64_MAX >> 12) || r.page_count > (UINT64_MAX >> 12) - r.base_pfn) {
            nk_warn(t, "%s: run %zu (base page 0x%llx, %llu pages) overflows the physical address space; ignored",
                    fn, i, (unsigned long long)r.base_pfn, (unsigned long long)r.page_count);
            continue;
        }
        uint64_t room = t->file.size > r.file_off ? (t->file.size - r.file_off) / 4096 : 0;
        if (room == 0) { /* entirely past the end: reported once for all such runs, below */
            if (!npast++) first_past = i;
            past_pages = r.page_count > UINT64_MAX - past_pages ? UINT64_MAX : past_pages + r.page_count;
            continue;
        }
        if (r.page_count > room) {
            nk_warn(t, "%s: run %zu (base page 0x%llx) describes %llu pages at offset 0x%llx but the "
                    "file holds %llu; the rest reads as not present",
                    fn, i, (unsigned long long)r.base_pfn, (unsigned long long)r.page_count,
                    (unsigned long long)r.file_off, (unsigned long long)room);
            r.page_count = room;
        }
        p->runs[out++] = r;
    }
    if (npast)
        nk_warn(t, "%s: %zu run%s from run %zu on (%llu pages) lie%s past the end of the file (0x%llx "
                "bytes); their pages read as not present", fn, npast, npast == 1 ? "" : "s", first_past,
                (unsigned long long)past_pages, npast == 1 ? "s" : "", (unsigned long long)t->file.size);
    p->nruns = out;
    nk_sort(p->runs, p->nruns, sizeof *p->runs, run_cmp);
    out = 0;
    for (size_t i = 0; i < p->nruns; i++) {
        nk_phys_run r = p->runs[i];
        if (out) {
            nk_phys_run *prev = &p->runs[out - 1];
            uint64_t prev_end = prev->base_pfn + prev->page_count;
            if (r.base_pfn < prev_end) {
                nk_warn(t, "%s: run at page 0x%llx overlaps the run at page 0x%llx; the overlap "
                        "is read from the earlier run", fn, (unsigned long long)r.base_pfn,
                        (unsigned long long)prev->base_pfn);
                uint64_t skip = prev_end - r.base_pfn;
                if (skip >= r.page_count) continue;
                r.base_pfn += skip;
                r.page_count -= skip;
                r.file_off += skip * 4096;
            }
        }
        p->runs[out++] = r;
    }
    p->nruns = out;
    return NTKD_OK;
}

static int vr_cmp(const void *a, const void *b)
{
    const nk_vrange *x = a, *y = b;
    return x->va < y->va ? -1 : x->va > y->va;
}

void nk_vranges_check(ntkd_target *t)
{
    nk_dump *d = &t->d;
    const char *fn = nk_file_name(&t->file);
    size_t out = 0;
    for (size_t i = 0; i < d->nvranges; i++) {
        nk_vrange r = d->vranges[i];
        if (!r.size) continue;
        if (!nk_in_bounds(t->file.size, r.file_off, r.size)) {
            uint64_t room = t->file.size > r.file_off ? t->file.size - r.file_off : 0;
            nk_warn(t, "%s: memory range %llx (0x%llx bytes) at file offset 0x%llx runs past the "
                    "end of the file; 0x%llx bytes kept", fn, (unsigned long long)r.va,
                    (unsigned long long)r.size, (unsigned long long)r.file_off,
                    (unsigned long long)room);
            r.size = room;
            if (!r.size) continue;
        }
        if (r.size > UINT64_MAX - r.va) r.size = UINT64_MAX - r.va;
        d->vranges[out++] = r;
    }
    d->nvranges = out;
    nk_sort(d->vranges, d->nvranges, sizeof *d->vranges, vr_cmp);
    out = 0;
    for (size_t i = 0; i < d->nvranges; i++) {
        nk_vrange r = d->vranges[i];
        if (out) {
            nk_vrange *prev = &d->vranges[out - 1];
            uint64_t prev_end = prev->va + prev->size;
            if (r.va < prev_end) {
                uint64_t skip = prev_end - r.va;
                if (skip >= r.size) continue;
                r.va += skip;
                r.size -= skip;
                r.file_off += skip;
            }
        }
        d->vranges[out++] = r;
    }
    d->nvranges = out;
}

bool nk_phys_page_off(const nk_dump *d, uint64_t pfn, uint64_t *file_off)
{
    const nk_physmap *p = &d->phys;
    if (p->kind == NK_PHYS_RUNS) {
        size_t lo = 0, hi = p->nruns;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            const nk_phys_run *r = &p->runs[mid];
            if (pfn < r->base_pfn) hi = mid;
            else if (pfn - r->base_pfn >= r->page_count) lo = mid + 1;
            else {
                *file_off = r->file_off + (pfn - r->base_pfn) * 4096;
                return true;
            }
        }
        return false;
    }
    if (p->kind == NK_PHYS_BITMAP) {
        if (pfn >= p->nbits) return false;
        if (!((p->bitmap[pfn >> 3] >> (pfn & 7)) & 1)) return false;
        uint64_t blk = pfn / RANK_BLOCK_BITS;
        uint64_t idx = p->rank[blk];
        uint64_t i = blk * (RANK_BLOCK_BITS / 8);
        const uint64_t stop = pfn >> 3;
        for (; i + 8 <= stop; i += 8) idx += (uint64_t)__builtin_popcountll(nk_le64(p->bitmap + i));
        for (; i < stop; i++) idx += (uint64_t)__builtin_popcount(p->bitmap[i]);
        idx += (uint64_t)__builtin_popcount(p->bitmap[stop] & ((1u << (pfn & 7)) - 1));
        if (idx >= p->npresent) return false;
        *file_off = p->data_off + idx * 4096;
        return true;
    }
    return false;
}

static void dump_free(nk_dump *d)
{
    free(d->phys.runs);
    free(d->phys.rank);
    free(d->vranges);
    for (size_t i = 0; i < d->nmodules; i++) {
        free(d->modules[i].name);
        free(d->modules[i].path);
    }
    free(d->modules);
    free(d->threads);
    for (size_t i = 0; i < d->nfields; i++) free(d->fields[i].text);
    free(d->fields);
    free(d->blobs);
    free(d->csd_version);
    free(d->ctx_store);
}

ntkd_ctx *ntkd_ctx_new(void) { return calloc(1, sizeof(ntkd_ctx)); }
void ntkd_ctx_free(ntkd_ctx *ctx) { free(ctx); }
const char *ntkd_ctx_error(const ntkd_ctx *ctx) { return ctx ? ctx->errmsg : "no context"; }

/* Detects the container by signature and runs its parser on an already-mapped file. */
static ntkd_status open_target(ntkd_ctx *ctx, ntkd_target *t, const ntkd_open_opts *opts,
                               ntkd_target **out)
{
    nk_status st;
    if (opts && opts->raw) {
        st = nk_raw_open(t, opts);
    } else {
        static nk_status (*const parsers[])(ntkd_target *) = {nk_kdump64_open, nk_kdump32_open,
                                                             nk_mdmp_open, nk_image_open};
        st = NTKD_E_FORMAT;
        for (size_t i = 0; i < sizeof parsers / sizeof parsers[0] && st == NTKD_E_FORMAT; i++) {
            ctx->errmsg[0] = 0;
            st = parsers[i](t);
            if (st == NTKD_E_FORMAT && ctx->errmsg[0]) break; /* its kind, but malformed */
        }
        if (st == NTKD_E_FORMAT && !ctx->errmsg[0]) {
            char sig[9] = {0};
            if (t->file.size) nk_copy_cstr(sig, sizeof sig, t->file.data, t->file.size < 8 ? t->file.size : 8);
            nk_fail(ctx, NTKD_E_FORMAT,
                    "%s: not a Windows dump: signature \"%s\" at offset 0x0 is none of PAGEDU64, "
                    "PAGEDUMP, MDMP, MZ (use --raw for a physical memory image)",
                    nk_file_name(&t->file), sig);
        }
    }
    if (st != NTKD_OK) {
        ntkd_close(t);
        return st;
    }
    if (t->d.ncontexts) t->cur_ctx = t->d.contexts[0];
    if (opts && opts->sympath && !(t->sympath = strdup(opts->sympath))) {
        ntkd_close(t);
        return nk_fail(ctx, NTKD_E_NOMEM, "out of memory");
    }
    if (opts && opts->table_cache && opts->table_cache[0] && !(t->table_cache = strdup(opts->table_cache))) {
        ntkd_close(t);
        return nk_fail(ctx, NTKD_E_NOMEM, "out of memory");
    }
    *out = t;
    return NTKD_OK;
}

ntkd_status ntkd_open(ntkd_ctx *ctx, const char *path, const ntkd_open_opts *opts,
                      ntkd_target **out)
{
    *out = NULL;
    ctx->errmsg[0] = 0;
    ntkd_target *t = calloc(1, sizeof *t);
    if (!t) return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", path);
    t->ctx = ctx;
    nk_status st = nk_file_map(ctx, path, &t->file);
    if (st != NTKD_OK) {
        free(t);
        return st;
    }
    return open_target(ctx, t, opts, out);
}

ntkd_status ntkd_open_mem(ntkd_ctx *ctx, const char *name, const void *data, size_t size,
                          const ntkd_open_opts *opts, ntkd_target **out)
{
    *out = NULL;
    ctx->errmsg[0] = 0;
    ntkd_target *t = calloc(1, sizeof *t);
    if (!t) return nk_fail(ctx, NTKD_E_NOMEM, "%s: out of memory", name);
    t->ctx = ctx;
    t->file.fd = -1;
    t->file.borrowed = true;
    t->file.data = data;
    t->file.size = size;
    t->file.path = strdup(name ? name : "(memory)");
    if (!t->file.path) {
        free(t);
        return nk_fail(ctx, NTKD_E_NOMEM, "out of memory");
    }
    return open_target(ctx, t, opts, out);
}

void ntkd_close(ntkd_target *t)
{
    if (!t) return;
    for (size_t i = 0; i < 8; i++)
        if (t->ext[i] && t->ext_free[i]) t->ext_free[i](t->ext[i]);
    dump_free(&t->d);
    free(t->sympath);
    free(t->table_cache);
    for (size_t i = 0; i < t->nwarnings; i++) free(t->warnings[i]);
    free(t->warnings);
    nk_file_unmap(&t->file);
    free(t);
}

bool ntkd_is_kernel(const ntkd_target *t)
{
    return t->d.kind != NK_KIND_USER_MINI && t->d.kind != NK_KIND_IMAGE;
}

void ntkd_prompt(const ntkd_target *t, char *buf, size_t len)
{
    if (ntkd_is_kernel(t)) snprintf(buf, len, "%u: kd> ", t->d.bugcheck_cpu);
    else snprintf(buf, len, "0:%03zu> ", t->cur_thread);
}

size_t ntkd_warning_count(const ntkd_target *t) { return t->nwarnings; }
const char *ntkd_warning(const ntkd_target *t, size_t i)
{
    return i < t->nwarnings ? t->warnings[i] : NULL;
}
