/* pe_unwind.c: the exception directory (.pdata) of x64 and ARM64 images, lookup of the entry
 * covering an address, and decoding of x64 UNWIND_INFO (versions 1 and 2). */
#include "image/pe_internal.h"

#include <stdio.h>
#include <stdlib.h>

#define PDATA_MAX_ENTRIES 0x400000u
#define X64_MAX_CHAIN 32

void pe_funcs_free(nk_pe *pe)
{
    free(pe->funcs);
    pe->funcs = NULL;
    pe->nfuncs = pe->funcs_total = 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const nk_pe_func *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

static nk_status load_funcs(nk_pe *pe)
{
    const char *fn = pe->name;
    uint16_t m = pe->hdr.machine;
    size_t esize;
    if (m == NK_PE_MACHINE_AMD64) esize = sizeof(pe_runtime_function);
    else if (m == NK_PE_MACHINE_ARM64) esize = sizeof(pe_arm64_runtime_function);
    else if (m == NK_PE_MACHINE_I386)
        return nk_fail(pe->ctx, NTKD_E_UNSUPPORTED,
                       "%s: x86 images have no .pdata; their frames unwind by the PDB's FPO and FrameData records", fn);
    else
        return nk_fail(pe->ctx, NTKD_E_UNSUPPORTED, "%s: machine 0x%x: exception directory not read for this architecture", fn, m);
    if (pe->hdr.ndirs <= NK_PE_DIR_EXCEPTION || pe->hdr.dirs[NK_PE_DIR_EXCEPTION].rva == 0 ||
        pe->hdr.dirs[NK_PE_DIR_EXCEPTION].size == 0)
        return nk_fail(pe->ctx, NTKD_E_NOTFOUND, "%s: the image has no exception directory (.pdata)", fn);
    uint32_t rva = pe->hdr.dirs[NK_PE_DIR_EXCEPTION].rva, size = pe->hdr.dirs[NK_PE_DIR_EXCEPTION].size;
    char w[48];
    size_t n = size / esize;
    if (size % esize)
        pe_warn(pe, "%s: exception directory size 0x%x at %s is not a multiple of %zu", fn, size, pe_where(pe, rva, w), esize);
    if (n > PDATA_MAX_ENTRIES || (pe->hdr.size_of_image && (uint64_t)n * esize > pe->hdr.size_of_image))
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: exception directory at %s: %zu entries are more than the image can hold", fn,
                       pe_where(pe, rva, w), n);
    if (n == 0) return nk_fail(pe->ctx, NTKD_E_NOTFOUND, "%s: the exception directory is empty", fn);
    uint8_t *raw = malloc(n * esize);
    uint8_t *present = malloc(n);
    pe->funcs = calloc(n, sizeof *pe->funcs);
    if (!raw || !present || !pe->funcs) {
        free(raw);
        free(present);
        return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
    }
    nk_status st = pe_read_array(pe, rva, esize, n, raw, present, "exception directory");
    if (st == NTKD_E_NOTPRESENT) {
        pe_warn(pe, "%s", pe->ctx->errmsg);
    } else if (st != NTKD_OK) {
        free(raw);
        free(present);
        return st;
    }
    size_t k = 0, len_unknown = 0;
    bool sorted = true;
    for (size_t i = 0; i < n; i++) {
        if (!present[i]) continue;
        const uint8_t *p = raw + i * esize;
        nk_pe_func *f = &pe->funcs[k];
        f->index = (uint32_t)i;
        if (esize == sizeof(pe_runtime_function)) {
            f->begin = nk_le32(p + offsetof(pe_runtime_function, BeginAddress));
            f->end = nk_le32(p + offsetof(pe_runtime_function, EndAddress));
            f->unwind = nk_le32(p + offsetof(pe_runtime_function, UnwindInfoAddress));
        } else {
            f->begin = nk_le32(p + offsetof(pe_arm64_runtime_function, BeginAddress));
            f->unwind = nk_le32(p + offsetof(pe_arm64_runtime_function, UnwindData));
            uint32_t flag = f->unwind & 3, len = 0;
            if (flag == 1 || flag == 2) {
                len = ((f->unwind >> 2) & 0x7ff) * 4;
            } else if (flag == 0) {
                uint8_t h[4];
                if (pe_read_quiet(pe, f->unwind, h, 4) == NTKD_OK) {
                    len = (nk_le32(h) & 0x3ffff) * 4;
                } else {
                    f->flags |= NK_PE_FUNC_LEN_UNKNOWN;
                    len_unknown++;
                }
            } else {
                f->flags |= NK_PE_FUNC_LEN_UNKNOWN; /* flag 3 is reserved */
                len_unknown++;
            }
            f->end = (uint32_t)((uint64_t)f->begin + len > UINT32_MAX ? UINT32_MAX : f->begin + len);
        }
        if (k > 0 && f->begin < pe->funcs[k - 1].begin) sorted = false;
        k++;
    }
    free(raw);
    free(present);
    if (!sorted) {
        pe_warn(pe, "%s: exception directory at %s is not sorted by start address; sorted it", fn, pe_where(pe, rva, w));
        nk_sort(pe->funcs, k, sizeof *pe->funcs, cmp_begin);
    }
    /* an unknown length ends where the next entry starts */
    for (size_t i = 0; i < k; i++)
        if (pe->funcs[i].flags & NK_PE_FUNC_LEN_UNKNOWN)
            pe->funcs[i].end = i + 1 < k ? pe->funcs[i + 1].begin : pe->funcs[i].begin + 4;
    if (len_unknown)
        pe_warn(pe, "%s: %zu ARM64 .pdata entries have no readable .xdata header (length unknown)", fn, len_unknown);
    pe->nfuncs = k;
    pe->funcs_total = n;
    return NTKD_OK;
}

nk_status nk_pe_funcs(nk_pe *pe, const nk_pe_func **v, size_t *n, size_t *total)
{
    if (!pe->funcs_done) {
        pe->funcs_done = true;
        pe->funcs_status = pe_remember(pe, pe->funcs_err, load_funcs(pe));
        if (pe->funcs_status != NTKD_OK) pe_funcs_free(pe);
    } else if (pe->funcs_status != NTKD_OK) {
        pe_recall(pe, pe->funcs_err, pe->funcs_status);
    }
    if (v) *v = pe->funcs;
    if (n) *n = pe->nfuncs;
    if (total) *total = pe->funcs_total;
    return pe->funcs_status;
}

nk_status nk_pe_func_find(nk_pe *pe, uint32_t rva, nk_pe_func *out)
{
    const nk_pe_func *v;
    size_t n, total;
    nk_status st = nk_pe_funcs(pe, &v, &n, &total);
    if (st != NTKD_OK) return st;
    /* last entry with begin <= rva */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].begin <= rva) lo = mid + 1;
        else hi = mid;
    }
    if (lo > 0 && rva < v[lo - 1].end) {
        *out = v[lo - 1];
        return NTKD_OK;
    }
    /* a chained fragment may sit inside its primary's range: look back a few entries */
    for (size_t k = lo > 1 ? lo - 1 : 0, steps = 0; k > 0 && steps < 16; k--, steps++)
        if (v[k - 1].begin <= rva && rva < v[k - 1].end) {
            *out = v[k - 1];
            return NTKD_OK;
        }
    /* entries missing between the neighbours could cover rva */
    bool gap;
    if (lo == 0) gap = n == 0 ? total > 0 : v[0].index != 0;
    else if (lo == n) gap = v[n - 1].index + 1 != total;
    else gap = v[lo].index != v[lo - 1].index + 1;
    if (gap)
        return nk_fail(pe->ctx, NTKD_E_NOTPRESENT, "%s: the .pdata entries that could cover rva 0x%x are not present in dump",
                       pe->name, rva);
    return nk_fail(pe->ctx, NTKD_E_NOTFOUND, "%s: no .pdata entry covers rva 0x%x (a leaf function)", pe->name, rva);
}

/* ---- x64 ----------------------------------------------------------------------------- */

const char *nk_x64_uwop_name(uint8_t op)
{
    static const char *const names[] = {
        "UWOP_PUSH_NONVOL", "UWOP_ALLOC_LARGE", "UWOP_ALLOC_SMALL", "UWOP_SET_FPREG",
        "UWOP_SAVE_NONVOL", "UWOP_SAVE_NONVOL_FAR", "UWOP_EPILOG", "UWOP_SPARE_CODE",
        "UWOP_SAVE_XMM128", "UWOP_SAVE_XMM128_FAR", "UWOP_PUSH_MACHFRAME",
    };
    return op < sizeof names / sizeof names[0] ? names[op] : "UWOP_?";
}

const char *nk_x64_reg_name(uint8_t reg)
{
    static const char *const names[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                        "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    return reg < 16 ? names[reg] : "?";
}

nk_status nk_pe_x64_unwind_at(nk_pe *pe, uint32_t rva, nk_x64_unwind *u)
{
    const char *fn = pe->name;
    char w[48];
    memset(u, 0, offsetof(nk_x64_unwind, codes));
    u->ncodes = 0;
    u->has_handler = u->chained = u->handler_data_present = false;
    u->handler_rva = u->handler_data_rva = u->handler_data = 0;
    memset(&u->chain, 0, sizeof u->chain);
    u->size = 0;
    u->rva = rva;
    uint8_t h[sizeof(pe_unwind_info)];
    nk_status st = pe_read_what(pe, rva, h, sizeof h, "unwind info");
    if (st != NTKD_OK) return st;
    u->version = h[offsetof(pe_unwind_info, VersionAndFlags)] & 7;
    u->flags = h[offsetof(pe_unwind_info, VersionAndFlags)] >> 3;
    u->prolog_size = h[offsetof(pe_unwind_info, SizeOfProlog)];
    u->count_of_codes = h[offsetof(pe_unwind_info, CountOfCodes)];
    u->frame_reg = h[offsetof(pe_unwind_info, FrameRegisterAndOffset)] & 15;
    u->frame_offset = h[offsetof(pe_unwind_info, FrameRegisterAndOffset)] >> 4;
    if (u->version != 1 && u->version != 2)
        return nk_fail(pe->ctx, NTKD_E_UNSUPPORTED, "%s: unwind info at %s has version %u (only 1 and 2 are read)", fn,
                       pe_where(pe, rva, w), u->version);
    unsigned count = u->count_of_codes;
    uint8_t codes[2 * 256];
    if (count) {
        st = pe_read_what(pe, rva + 4, codes, 2u * count, "unwind codes");
        if (st != NTKD_OK) return st;
    }
    bool seen_epilog = false;
    for (unsigned i = 0; i < count;) {
        nk_x64_code *c = &u->codes[u->ncodes];
        memset(c, 0, sizeof *c);
        c->slot = (uint8_t)i;
        c->code_offset = codes[2 * i];
        c->op = codes[2 * i + 1] & 15;
        c->info = codes[2 * i + 1] >> 4;
        c->valid = true;
        unsigned ns = 1;
        switch (c->op) {
        case NK_UWOP_PUSH_NONVOL:
        case NK_UWOP_ALLOC_SMALL:
        case NK_UWOP_SET_FPREG:
            break;
        case NK_UWOP_ALLOC_LARGE:
            if (c->info > 1)
                return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: unwind info at %s: UWOP_ALLOC_LARGE at slot %u has operation info %u (0 or 1)",
                               fn, pe_where(pe, rva, w), i, c->info);
            ns = c->info == 0 ? 2 : 3;
            break;
        case NK_UWOP_SAVE_NONVOL:
        case NK_UWOP_SAVE_XMM128:
            ns = 2;
            break;
        case NK_UWOP_SAVE_NONVOL_FAR:
        case NK_UWOP_SAVE_XMM128_FAR:
            ns = 3;
            break;
        case NK_UWOP_EPILOG:
            /* version 2: one slot per code; version 1 never defined it (an old draft used the
             * value for a 2-slot XMM save) */
            if (u->version == 2) {
                ns = 1;
            } else {
                ns = 2;
                c->valid = false;
            }
            break;
        case NK_UWOP_SPARE_CODE:
            ns = 3;
            c->valid = false;
            break;
        case NK_UWOP_PUSH_MACHFRAME:
            if (c->info > 1) c->valid = false;
            break;
        default:
            return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: unwind info at %s: unknown unwind operation %u at slot %u", fn,
                           pe_where(pe, rva, w), c->op, i);
        }
        if (i + ns > count)
            return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: unwind info at %s: %s at slot %u needs %u slots, %u remain", fn,
                           pe_where(pe, rva, w), nk_x64_uwop_name(c->op), i, ns, count - i);
        c->nslots = (uint8_t)ns;
        uint32_t s1 = ns >= 2 ? nk_le16(codes + 2 * (i + 1)) : 0;
        uint32_t s12 = ns >= 3 ? nk_le32(codes + 2 * (i + 1)) : 0;
        switch (c->op) {
        case NK_UWOP_ALLOC_LARGE: c->value = c->info == 0 ? s1 * 8 : s12; break;
        case NK_UWOP_ALLOC_SMALL: c->value = c->info * 8u + 8u; break;
        case NK_UWOP_SET_FPREG: c->value = 16u * u->frame_offset; break;
        case NK_UWOP_SAVE_NONVOL: c->value = s1 * 8; break;
        case NK_UWOP_SAVE_NONVOL_FAR: c->value = s12; break;
        case NK_UWOP_SAVE_XMM128: c->value = s1 * 16; break;
        case NK_UWOP_SAVE_XMM128_FAR: c->value = s12; break;
        case NK_UWOP_PUSH_MACHFRAME: c->value = c->info ? 48 : 40; break;
        case NK_UWOP_EPILOG:
            if (u->version == 2) {
                if (!seen_epilog) {
                    c->epilog_first = true;
                    c->epilog_at_end = (c->info & 1) != 0;
                    c->value = c->code_offset;
                    seen_epilog = true;
                } else {
                    c->value = (uint32_t)c->info << 8 | c->code_offset;
                }
            }
            break;
        default: break;
        }
        u->ncodes++;
        i += ns;
    }
    uint32_t aligned = (count + 1u) & ~1u;
    uint32_t trailer = rva + 4 + 2 * aligned;
    if (u->flags & NK_UNW_CHAININFO) {
        uint8_t rf[sizeof(pe_runtime_function)];
        st = pe_read_what(pe, trailer, rf, sizeof rf, "chained unwind entry");
        if (st != NTKD_OK) return st;
        u->chained = true;
        u->chain.begin = nk_le32(rf + offsetof(pe_runtime_function, BeginAddress));
        u->chain.end = nk_le32(rf + offsetof(pe_runtime_function, EndAddress));
        u->chain.unwind = nk_le32(rf + offsetof(pe_runtime_function, UnwindInfoAddress));
        u->chain.index = UINT32_MAX;
        u->size = 4 + 2 * aligned + (uint32_t)sizeof rf;
    } else if (u->flags & (NK_UNW_EHANDLER | NK_UNW_UHANDLER)) {
        uint8_t hb[4];
        st = pe_read_what(pe, trailer, hb, sizeof hb, "exception handler address");
        if (st != NTKD_OK) return st;
        u->has_handler = true;
        u->handler_rva = nk_le32(hb);
        u->handler_data_rva = trailer + 4;
        if (pe_read_quiet(pe, trailer + 4, hb, 4) == NTKD_OK) {
            u->handler_data_present = true;
            u->handler_data = nk_le32(hb);
        }
        u->size = 4 + 2 * aligned + 8;
    } else {
        u->size = 4 + 2 * count;
    }
    return NTKD_OK;
}

nk_status nk_pe_x64_unwind(nk_pe *pe, const nk_pe_func *f, nk_x64_unwind *out, nk_pe_func *resolved)
{
    nk_pe_func cur = *f;
    if (cur.unwind & 1) {
        /* an indirect entry: UnwindInfoAddress - 1 is the RVA of the RUNTIME_FUNCTION to use */
        uint8_t rf[sizeof(pe_runtime_function)];
        nk_status st = pe_read_what(pe, cur.unwind & ~1u, rf, sizeof rf, "indirect function entry");
        if (st != NTKD_OK) return st;
        cur.begin = nk_le32(rf + offsetof(pe_runtime_function, BeginAddress));
        cur.end = nk_le32(rf + offsetof(pe_runtime_function, EndAddress));
        cur.unwind = nk_le32(rf + offsetof(pe_runtime_function, UnwindInfoAddress));
        cur.index = UINT32_MAX;
        if (cur.unwind & 1)
            return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: indirect function entry at rva 0x%x points to another indirect entry",
                           pe->name, f->unwind & ~1u);
    }
    if (resolved) *resolved = cur;
    return nk_pe_x64_unwind_at(pe, cur.unwind, out);
}

nk_status nk_pe_x64_primary(nk_pe *pe, const nk_pe_func *f, nk_pe_func *primary, unsigned *links)
{
    nk_x64_unwind *u = malloc(sizeof *u);
    if (!u) return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", pe->name);
    nk_pe_func cur = *f;
    nk_status st = NTKD_OK;
    unsigned n = 0;
    for (;;) {
        nk_pe_func res;
        st = nk_pe_x64_unwind(pe, &cur, u, &res);
        if (st != NTKD_OK) break;
        if (!u->chained) {
            *primary = res;
            break;
        }
        if (++n > X64_MAX_CHAIN) {
            st = nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: more than %d chained unwind entries from rva 0x%x (a loop?)", pe->name,
                         X64_MAX_CHAIN, f->begin);
            break;
        }
        cur = u->chain;
    }
    if (links) *links = n;
    free(u);
    return st;
}
