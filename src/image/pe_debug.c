/* pe_debug.c: the debug directory: every entry listed, CodeView RSDS (GUID, age, PDB path)
 * and NB10 (signature, age, path) records parsed; the PDB's symbol-store key. */
#include "image/pe_internal.h"

#include <stdio.h>
#include <stdlib.h>

#define DBG_MAX_ENTRIES 256

void pe_debug_free(nk_pe *pe)
{
    free(pe->debug.v);
    memset(&pe->debug, 0, sizeof pe->debug);
    pe->debug.cv_index = -1;
}

const char *nk_pe_debug_type_name(uint32_t type)
{
    switch (type) {
    case 0: return "UNKNOWN";
    case NK_PE_DEBUG_COFF: return "COFF";
    case NK_PE_DEBUG_CODEVIEW: return "CODEVIEW";
    case NK_PE_DEBUG_FPO: return "FPO";
    case NK_PE_DEBUG_MISC: return "MISC";
    case NK_PE_DEBUG_EXCEPTION: return "EXCEPTION";
    case NK_PE_DEBUG_FIXUP: return "FIXUP";
    case NK_PE_DEBUG_OMAP_TO_SRC: return "OMAP_TO_SRC";
    case NK_PE_DEBUG_OMAP_FROM_SRC: return "OMAP_FROM_SRC";
    case NK_PE_DEBUG_BORLAND: return "BORLAND";
    case 10: return "RESERVED10";
    case NK_PE_DEBUG_CLSID: return "CLSID";
    case NK_PE_DEBUG_VC_FEATURE: return "VC_FEATURE";
    case NK_PE_DEBUG_POGO: return "POGO";
    case NK_PE_DEBUG_ILTCG: return "ILTCG";
    case NK_PE_DEBUG_MPX: return "MPX";
    case NK_PE_DEBUG_REPRO: return "REPRO";
    case NK_PE_DEBUG_EMBEDDED_PDB: return "EMBEDDED_PORTABLE_PDB";
    case NK_PE_DEBUG_PDBCHECKSUM: return "PDBCHECKSUM";
    case NK_PE_DEBUG_EX_DLLCHARACTERISTICS: return "EX_DLLCHARACTERISTICS";
    }
    return "?";
}

char *nk_pe_guid_str(const nk_pe_guid *g, char *buf)
{
    snprintf(buf, 40, "%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X", g->data1, g->data2, g->data3,
             g->data4[0], g->data4[1], g->data4[2], g->data4[3], g->data4[4], g->data4[5], g->data4[6], g->data4[7]);
    return buf;
}

char *nk_pe_pdb_key(const nk_pe_codeview *cv, char *buf)
{
    if (cv->kind == NK_PE_CV_RSDS) {
        const nk_pe_guid *g = &cv->guid;
        snprintf(buf, 48, "%08X%04X%04X%02X%02X%02X%02X%02X%02X%02X%02X%X", g->data1, g->data2, g->data3, g->data4[0],
                 g->data4[1], g->data4[2], g->data4[3], g->data4[4], g->data4[5], g->data4[6], g->data4[7], cv->age);
    } else if (cv->kind == NK_PE_CV_NB10) {
        snprintf(buf, 48, "%08X%x", cv->signature, cv->age);
    } else {
        buf[0] = 0;
    }
    return buf;
}

/* Reads an entry's data: by its RVA when it is mapped, else (file layout) by its file
 * pointer. */
static nk_status read_entry_data(nk_pe *pe, const nk_pe_debug_entry *e, uint8_t *buf, size_t len)
{
    if (e->rva) return pe_read_what(pe, e->rva, buf, len, "debug data");
    if (pe->mem)
        return nk_fail(pe->ctx, NTKD_E_NOTPRESENT, "%s: debug entry of type %u has no address in memory (PointerToRawData 0x%x only)",
                       pe->name, e->type, e->file_ptr);
    if (!nk_in_bounds(pe->file.size, e->file_ptr, len))
        return nk_fail(pe->ctx, NTKD_E_TRUNCATED, "%s: debug data at file offset 0x%x (%zu bytes) is past the end of the file",
                       pe->name, e->file_ptr, len);
    memcpy(buf, pe->file.data + e->file_ptr, len);
    return NTKD_OK;
}

/* Parses a CodeView record (size bytes). */
static nk_status parse_cv(nk_pe *pe, const nk_pe_debug_entry *e, nk_pe_codeview *cv)
{
    char w[48];
    size_t size = e->size;
    if (size < 16)
        return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: CodeView record at %s is %zu bytes, too short", pe->name,
                       pe_where(pe, e->rva, w), size);
    if (size > 4096) size = 4096; /* path is at most a few hundred bytes */
    uint8_t buf[4096];
    nk_status st = read_entry_data(pe, e, buf, size);
    if (st != NTKD_OK) return st;
    uint32_t sig = nk_le32(buf);
    memset(cv, 0, sizeof *cv);
    size_t path_off;
    if (sig == PE_CV_RSDS) {
        if (size < sizeof(pe_cv_rsds))
            return nk_fail(pe->ctx, NTKD_E_FORMAT, "%s: RSDS record at %s is %zu bytes, shorter than its 24-byte header",
                           pe->name, pe_where(pe, e->rva, w), size);
        cv->kind = NK_PE_CV_RSDS;
        const uint8_t *g = buf + offsetof(pe_cv_rsds, Guid);
        cv->guid.data1 = nk_le32(g);
        cv->guid.data2 = nk_le16(g + 4);
        cv->guid.data3 = nk_le16(g + 6);
        memcpy(cv->guid.data4, g + 8, 8);
        cv->age = nk_le32(buf + offsetof(pe_cv_rsds, Age));
        path_off = sizeof(pe_cv_rsds);
    } else if (sig == PE_CV_NB10) {
        cv->kind = NK_PE_CV_NB10;
        cv->signature = nk_le32(buf + offsetof(pe_cv_nb10, TimeStamp));
        cv->age = nk_le32(buf + offsetof(pe_cv_nb10, Age));
        path_off = sizeof(pe_cv_nb10);
    } else {
        return nk_fail(pe->ctx, NTKD_E_UNSUPPORTED, "%s: CodeView record at %s has signature 0x%08x (neither RSDS nor NB10)",
                       pe->name, pe_where(pe, e->rva, w), sig);
    }
    nk_copy_cstr(cv->pdb_path, sizeof cv->pdb_path, buf + path_off, size - path_off);
    return NTKD_OK;
}

static nk_status parse_debug(nk_pe *pe)
{
    const char *fn = pe->name;
    nk_pe_debug *d = &pe->debug;
    d->cv_index = -1;
    if (pe->hdr.ndirs <= NK_PE_DIR_DEBUG || pe->hdr.dirs[NK_PE_DIR_DEBUG].rva == 0 ||
        pe->hdr.dirs[NK_PE_DIR_DEBUG].size == 0)
        return nk_fail(pe->ctx, NTKD_E_NOTFOUND, "%s: the image has no debug directory", fn);
    uint32_t rva = pe->hdr.dirs[NK_PE_DIR_DEBUG].rva, size = pe->hdr.dirs[NK_PE_DIR_DEBUG].size;
    size_t n = size / sizeof(pe_debug_directory);
    char w[48];
    if (size % sizeof(pe_debug_directory))
        pe_warn(pe, "%s: debug directory size 0x%x at %s is not a multiple of 28", fn, size, pe_where(pe, rva, w));
    if (n > DBG_MAX_ENTRIES) {
        pe_warn(pe, "%s: debug directory at %s declares %zu entries; reading %d", fn, pe_where(pe, rva, w), n,
                DBG_MAX_ENTRIES);
        n = DBG_MAX_ENTRIES;
    }
    if (n == 0) return nk_fail(pe->ctx, NTKD_E_NOTFOUND, "%s: the debug directory is empty", fn);
    uint8_t *raw = malloc(n * sizeof(pe_debug_directory));
    d->v = calloc(n, sizeof *d->v);
    if (!raw || !d->v) {
        free(raw);
        return nk_fail(pe->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
    }
    nk_status st = pe_read_what(pe, rva, raw, n * sizeof(pe_debug_directory), "debug directory");
    if (st != NTKD_OK) {
        free(raw);
        return st;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = raw + i * sizeof(pe_debug_directory);
        nk_pe_debug_entry *e = &d->v[i];
        e->characteristics = nk_le32(p + offsetof(pe_debug_directory, Characteristics));
        e->timestamp = nk_le32(p + offsetof(pe_debug_directory, TimeDateStamp));
        e->major = nk_le16(p + offsetof(pe_debug_directory, MajorVersion));
        e->minor = nk_le16(p + offsetof(pe_debug_directory, MinorVersion));
        e->type = nk_le32(p + offsetof(pe_debug_directory, Type));
        e->size = nk_le32(p + offsetof(pe_debug_directory, SizeOfData));
        e->rva = nk_le32(p + offsetof(pe_debug_directory, AddressOfRawData));
        e->file_ptr = nk_le32(p + offsetof(pe_debug_directory, PointerToRawData));
        e->data_present = e->size == 0; /* nothing to read */
        if (e->size) {
            uint8_t probe[4];
            size_t len = e->size < sizeof probe ? e->size : sizeof probe;
            char save[sizeof pe->ctx->errmsg];
            memcpy(save, pe->ctx->errmsg, sizeof save);
            e->data_present = read_entry_data(pe, e, probe, len) == NTKD_OK;
            memcpy(pe->ctx->errmsg, save, sizeof save);
        }
        if (e->type == NK_PE_DEBUG_CODEVIEW && d->cv_index < 0) {
            nk_status cst = parse_cv(pe, e, &d->cv);
            if (cst == NTKD_OK) {
                d->cv_index = (int)i;
            } else {
                pe_warn(pe, "%s", pe->ctx->errmsg);
                memset(&d->cv, 0, sizeof d->cv);
            }
        }
    }
    d->count = n;
    free(raw);
    return NTKD_OK;
}

nk_status nk_pe_debug_get(nk_pe *pe, const nk_pe_debug **out)
{
    if (!pe->debug_done) {
        pe->debug_done = true;
        pe->debug_status = pe_remember(pe, pe->debug_err, parse_debug(pe));
        if (pe->debug_status != NTKD_OK) pe_debug_free(pe);
    } else if (pe->debug_status != NTKD_OK) {
        pe_recall(pe, pe->debug_err, pe->debug_status);
    }
    *out = pe->debug_status == NTKD_OK ? &pe->debug : NULL;
    return pe->debug_status;
}
