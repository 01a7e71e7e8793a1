/* kmm.c: the memory manager's state (see kmm.h). */
#include "kobj/kmm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kobj/kobj_int.h"
#include "kobj/kpool.h"
#include "mem/mem.h"

static const char *const list_names[NK_MM_NLISTS] = {
    "Zeroed", "Free", "Standby", "Modified", "ModifiedNoWrite", "Bad", "Active", "Transition"};
static const char *const list_enum[NK_MM_NLISTS] = {
    "ZeroedPageList", "FreePageList", "StandbyPageList", "ModifiedPageList",
    "ModifiedNoWritePageList", "BadPageList", "ActiveAndValid", "TransitionPage"};

const char *nk_mm_list_name(unsigned list)
{
    return list < NK_MM_NLISTS ? list_names[list] : "Unknown";
}

static bool field_opt(ntkd_target *t, const char *type, const char *name, nk_kfield *f)
{
    if (!nk_k_has(t, type, name)) return false;
    return nk_k_field(t, type, name, f) == NTKD_OK;
}

/* A pointer-sized counter at an nt global. */
static bool global_value(ntkd_target *t, const char *name, uint64_t *v)
{
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    uint64_t va;
    bool ok = nk_k_global(t, name, &va) == NTKD_OK && nk_read_ptr(t, va, v) == NTKD_OK;
    memcpy(t->ctx->errmsg, save, sizeof save);
    return ok;
}

static bool partition(ntkd_target *t, uint64_t *part)
{
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    bool ok = nk_k_global(t, "MiSystemPartition", part) == NTKD_OK;
    memcpy(t->ctx->errmsg, save, sizeof save);
    return ok;
}

nk_status nk_mm_pfndb_get(ntkd_target *t, nk_mm_pfndb *db)
{
    memset(db, 0, sizeof *db);
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    nk_status st;
    if ((st = nk_k_global_ptr(t, "MmPfnDatabase", &db->base)) != NTKD_OK) return st;
    if (!db->base) return nk_fail(t->ctx, NTKD_E_FORMAT, "nt!MmPfnDatabase is 0: no PFN database");
    if ((st = nk_k_sizeof(t, "_MMPFN", &db->esz)) != NTKD_OK) return st;
    if (db->esz < 8 || db->esz > 256)
        return nk_fail(t->ctx, NTKD_E_FORMAT, "sizeof(_MMPFN) = %llu is not plausible",
                       (unsigned long long)db->esz);
    if ((st = nk_k_field(t, "_MMPFN", "PteAddress", &db->pte_addr)) != NTKD_OK) return st;
    if ((st = nk_k_field(t, "_MMPFN", "u2.ShareCount", &db->share)) != NTKD_OK) return st;
    if ((st = nk_k_field(t, "_MMPFN", "u3.e2.ReferenceCount", &db->ref)) != NTKD_OK) return st;
    if ((st = nk_k_field(t, "_MMPFN", "u3.e1.PageLocation", &db->location)) != NTKD_OK) return st;
    if ((st = nk_k_field(t, "_MMPFN", "OriginalPte", &db->orig_pte)) != NTKD_OK) return st;
    if ((st = nk_k_field(t, "_MMPFN", "u4.PteFrame", &db->pte_frame)) != NTKD_OK) return st;
    field_opt(t, "_MMPFN", "u3.e1.Modified", &db->modified);
    if (field_opt(t, "_MMPFN", "u4.PrototypePte", &db->proto)) db->proto_in_u4 = true;
    else if ((st = nk_k_field(t, "_MMPFN", "u3.e1.PrototypePte", &db->proto)) != NTKD_OK) return st;
    for (int i = 0; i < NK_MM_NLISTS; i++)
        if (!nk_k_enum_value(t, "_MMLISTS", list_enum[i], &db->list_value[i])) db->list_value[i] = i;
    uint64_t part, hi = 0;
    if (partition(t, &part)) {
        if (nk_k_read(t, part, "_MI_PARTITION", "Vp.HighestPhysicalPage", &hi) != NTKD_OK) return NTKD_E_NOTFOUND;
    } else if (!global_value(t, "MmHighestPhysicalPage", &hi)) {
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "nt!MmHighestPhysicalPage is not readable");
    }
    db->highest = hi;
    return NTKD_OK;
}

static void decode(const nk_mm_pfndb *db, const uint8_t *b, uint64_t pfn, nk_mmpfn *e)
{
    size_t n = (size_t)db->esz;
    e->pfn = pfn;
    e->pte_addr = nk_k_fget_buf(b, n, &db->pte_addr);
    e->share = nk_k_fget_buf(b, n, &db->share);
    e->ref = nk_k_fget_buf(b, n, &db->ref);
    uint64_t loc = nk_k_fget_buf(b, n, &db->location);
    e->list = NK_MM_NLISTS;
    for (unsigned i = 0; i < NK_MM_NLISTS; i++)
        if ((uint64_t)db->list_value[i] == loc) e->list = i;
    nk_kfield op = db->orig_pte;
    op.bitlen = 0;
    if (op.size > 8) op.size = 8;
    e->orig_pte = nk_k_fget_buf(b, n, &op);
    e->pte_frame = nk_k_fget_buf(b, n, &db->pte_frame);
    e->proto = nk_k_fget_buf(b, n, &db->proto) != 0;
    e->modified = db->modified.size ? nk_k_fget_buf(b, n, &db->modified) != 0 : false;
}

nk_status nk_mm_pfn(ntkd_target *t, const nk_mm_pfndb *db, uint64_t pfn, nk_mmpfn *out)
{
    uint8_t b[256];
    size_t got = 0;
    uint64_t va = db->base + pfn * db->esz;
    memset(out, 0, sizeof *out);
    if (nk_read_virt(t, va, b, (size_t)db->esz, &got) != NTKD_OK || got != db->esz)
        return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "the PFN entry of frame %llx (%llx) is not in the dump",
                       (unsigned long long)pfn, (unsigned long long)va);
    decode(db, b, pfn, out);
    return NTKD_OK;
}

/* A one-page window over the PFN database: the host bytes of the page holding va. */
typedef struct window {
    uint64_t page_va;
    const uint8_t *p; /* NULL: the page is not in the dump */
    bool valid;
} window;

static const uint8_t *window_at(ntkd_target *t, window *w, uint64_t va)
{
    uint64_t pv = va & ~0xfffull;
    if (!w->valid || w->page_va != pv) {
        w->valid = true;
        w->page_va = pv;
        w->p = NULL;
        uint64_t pa;
        if (nk_vtop(t, pv, &pa) == NTKD_OK) {
            size_t avail = 0;
            const uint8_t *p = nk_phys_ptr(t, pa & ~0xfffull, &avail);
            if (p && avail >= 4096) w->p = p;
        }
    }
    return w->p ? w->p + (va & 0xfff) : NULL;
}

static bool entry_bytes(ntkd_target *t, const nk_mm_pfndb *db, window *w, uint64_t pfn, uint8_t *tmp,
                        const uint8_t **out)
{
    uint64_t va = db->base + pfn * db->esz;
    uint64_t in = va & 0xfff;
    if (in + db->esz <= 4096) {
        *out = window_at(t, w, va);
        return *out != NULL;
    }
    /* an entry across two pages */
    size_t first = (size_t)(4096 - in);
    const uint8_t *a = window_at(t, w, va);
    if (!a) return false;
    memcpy(tmp, a, first);
    const uint8_t *c = window_at(t, w, va + first);
    if (!c) return false;
    memcpy(tmp + first, c, (size_t)db->esz - first);
    *out = tmp;
    return true;
}

nk_status nk_mm_scan(ntkd_target *t, const nk_mm_pfndb *db, nk_mm_pfn_fn fn, void *u,
                     nk_mm_progress_fn prog, void *pu, nk_mm_scan_stats *st)
{
    memset(st, 0, sizeof *st);
    const nk_physmap *pm = &t->d.phys;
    window w = {0, NULL, false};
    uint8_t tmp[256];
    uint64_t total = pm->kind == NK_PHYS_RUNS ? 0 : pm->npresent;
    if (pm->kind == NK_PHYS_RUNS)
        for (size_t i = 0; i < pm->nruns; i++) total += pm->runs[i].page_count;
    if (pm->kind == NK_PHYS_NONE)
        return nk_fail(t->ctx, NTKD_E_NOTFOUND, "this dump holds no physical pages (%s)", nk_kind_name(t->d.kind));
    uint64_t done = 0;
    bool stop = false;
    /* visit one frame */
#define VISIT(pfn_)                                                                    \
    do {                                                                               \
        uint64_t pf_ = (pfn_);                                                         \
        done++;                                                                        \
        if (prog && (done & 0x3fff) == 0) prog(pu, done, total);                       \
        if (pf_ > db->highest) {                                                       \
            st->beyond++;                                                              \
            break;                                                                     \
        }                                                                              \
        const uint8_t *b_;                                                             \
        if (!entry_bytes(t, db, &w, pf_, tmp, &b_)) {                                  \
            st->unreadable++;                                                          \
            break;                                                                     \
        }                                                                              \
        nk_mmpfn e_;                                                                   \
        decode(db, b_, pf_, &e_);                                                      \
        st->scanned++;                                                                 \
        st->count[e_.list]++;                                                          \
        if (fn && !fn(u, &e_)) stop = true;                                            \
    } while (0)
    if (pm->kind == NK_PHYS_RUNS) {
        for (size_t i = 0; i < pm->nruns && !stop; i++)
            for (uint64_t k = 0; k < pm->runs[i].page_count && !stop; k++) VISIT(pm->runs[i].base_pfn + k);
    } else {
        for (uint64_t byte = 0; byte < (pm->nbits + 7) / 8 && !stop; byte++) {
            uint8_t bits = pm->bitmap[byte];
            if (!bits) continue;
            for (unsigned bit = 0; bit < 8 && !stop; bit++) {
                uint64_t pfn = byte * 8 + bit;
                if (pfn >= pm->nbits) break;
                if (bits & (1u << bit)) VISIT(pfn);
            }
        }
    }
#undef VISIT
    if (prog) prog(pu, total, total);
    return NTKD_OK;
}

/* ---- control areas ----------------------------------------------------------------------- */

static uint64_t sext(ntkd_target *t, uint64_t v, unsigned bits)
{
    if (!t->d.is64 || bits >= 64 || bits == 0) return v;
    if (v & (1ull << (bits - 1))) v |= ~0ull << bits;
    return v;
}

nk_status nk_mm_pfn_control_area(ntkd_target *t, const nk_mmpfn *e, uint64_t *ca)
{
    nk_kfield pr, sa, va;
    if (!e->proto) return NTKD_E_NOTFOUND;
    if (nk_k_field(t, "_MMPTE_SUBSECTION", "Prototype", &pr) != NTKD_OK ||
        nk_k_field(t, "_MMPTE_SUBSECTION", "SubsectionAddress", &sa) != NTKD_OK ||
        nk_k_field(t, "_MMPTE_SUBSECTION", "Valid", &va) != NTKD_OK)
        return NTKD_E_NOTFOUND;
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(e->orig_pte >> (8 * i));
    if (nk_k_fget_buf(b, 8, &va) || !nk_k_fget_buf(b, 8, &pr)) return NTKD_E_NOTFOUND;
    uint64_t sub = sext(t, nk_k_fget_buf(b, 8, &sa), sa.bitlen);
    if (!sub) return NTKD_E_NOTFOUND;
    uint64_t c;
    nk_status st = nk_k_read(t, sub, "_SUBSECTION", "ControlArea", &c);
    if (st != NTKD_OK) {
        char a[20];
        return nk_fail(t->ctx, NTKD_E_NOTPRESENT, "frame %llx: its subsection %s is not in the dump",
                       (unsigned long long)e->pfn, nk_k_fmt(t, sub, a));
    }
    *ca = c;
    return NTKD_OK;
}

/* Names of the set 1-bit fields of a flags type, in bit order ("Spare"/"Unused" skipped). */
static void flag_names(ntkd_target *t, const char *type, uint32_t v, char *out, size_t len)
{
    static const char *const names[] = {
        "BeingDeleted", "BeingCreated", "BeingPurged", "NoModifiedWriting", "FailAllIo", "Image", "Based",
        "File", "Networked", "Rom", "PhysicalMemory", "CopyOnWrite", "Reserve", "Commit", "Accessed",
        "WasPurged", "UserReference", "GlobalMemory", "DeleteOnClose", "FilePointerNull",
        "GlobalOnlyPerSession", "SetMappedFileIoComplete", "CollidedFlush", "NoChange",
        "AttemptingDelete", "UserWritable", "PreferredNode", "NoCache", "HadUserReference",
        "ImageMappedInSystemSpace", "DebugSymbolsLoaded", "FloppyMedia", "PrefetchCreated",
        "ImageControlAreaOnRemovableMedia", "SystemVaAllocated", "UsingFileExtents", "PageSize64K"};
    out[0] = 0;
    size_t at = 0;
    for (unsigned bit = 0; bit < 32; bit++) {
        if (!(v & (1u << bit))) continue;
        const char *hit = NULL;
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !hit; i++) {
            char f[80];
            snprintf(f, sizeof f, "%s", names[i]);
            nk_kfield k;
            if (!nk_k_has(t, type, f) || nk_k_field(t, type, f, &k) != NTKD_OK) continue;
            if (k.bitlen == 1 && k.off == 0 && k.bitpos == bit) hit = names[i];
        }
        if (!hit) continue;
        int w = snprintf(out + at, len - at, "%s%s", at ? " " : "", hit);
        if (w < 0 || (size_t)w >= len - at) break;
        at += (size_t)w;
    }
}

nk_status nk_mm_ca(ntkd_target *t, uint64_t ca, nk_mmca *o)
{
    memset(o, 0, sizeof *o);
    o->addr = ca;
    nk_status st;
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    if ((st = nk_k_read(t, ca, "_CONTROL_AREA", "Segment", &o->segment)) != NTKD_OK) return st;
    const char *lf = nk_k_has(t, "_CONTROL_AREA", "DereferenceList") ? "DereferenceList" : "ListHead";
    char f[64];
    snprintf(f, sizeof f, "%s.Flink", lf);
    o->flink = nk_k_get(t, ca, "_CONTROL_AREA", f, 0);
    snprintf(f, sizeof f, "%s.Blink", lf);
    o->blink = nk_k_get(t, ca, "_CONTROL_AREA", f, 0);
    o->section_refs = nk_k_get(t, ca, "_CONTROL_AREA", "NumberOfSectionReferences", 0);
    o->pfn_refs = nk_k_get(t, ca, "_CONTROL_AREA", "NumberOfPfnReferences", 0);
    o->mapped_views = nk_k_get(t, ca, "_CONTROL_AREA", "NumberOfMappedViews", 0);
    o->user_refs = nk_k_get(t, ca, "_CONTROL_AREA", "NumberOfUserReferences", 0);
    o->mod_write_count = nk_k_get(t, ca, "_CONTROL_AREA", "ModifiedWriteCount", 0);
    o->flush_count = nk_k_has(t, "_CONTROL_AREA", "FlushInProgressCount")
                         ? nk_k_get(t, ca, "_CONTROL_AREA", "FlushInProgressCount", 0)
                         : nk_k_get(t, ca, "_CONTROL_AREA", "u2.e2.FlushInProgressCount", 0);
    o->system_views = nk_k_has(t, "_CONTROL_AREA", "NumberOfSystemCacheViews")
                          ? nk_k_get(t, ca, "_CONTROL_AREA", "NumberOfSystemCacheViews", 0)
                          : nk_k_get(t, ca, "_CONTROL_AREA", "u2.e2.NumberOfSystemCacheViews", 0);
    o->writable_refs = nk_k_get(t, ca, "_CONTROL_AREA", "u2.e2.WritableUserReferences", 0);
    o->wait_for_del = nk_k_has(t, "_CONTROL_AREA", "WaitingForDeletion")
                          ? nk_k_get(t, ca, "_CONTROL_AREA", "WaitingForDeletion", 0)
                          : nk_k_get(t, ca, "_CONTROL_AREA", "WaitList", 0);
    o->flags = (uint32_t)nk_k_get(t, ca, "_CONTROL_AREA", "u.LongFlags", 0);
    flag_names(t, "_MMSECTION_FLAGS", o->flags, o->flag_names, sizeof o->flag_names);
    nk_kfield ff;
    if (nk_k_field(t, "_MMSECTION_FLAGS", "File", &ff) == NTKD_OK) o->file = (o->flags >> ff.bitpos) & 1;
    if (nk_k_field(t, "_MMSECTION_FLAGS", "Image", &ff) == NTKD_OK) o->image = (o->flags >> ff.bitpos) & 1;
    uint64_t fp = 0;
    nk_kfield fpf;
    if (nk_k_field(t, "_CONTROL_AREA", "FilePointer", &fpf) == NTKD_OK) {
        uint8_t b[8] = {0};
        size_t got = 0;
        size_t ps = t->d.is64 ? 8 : 4;
        if (nk_read_virt(t, ca + fpf.off, b, ps, &got) == NTKD_OK && got == ps)
            fp = ps == 8 ? nk_le64(b) : nk_le32(b);
        /* _EX_FAST_REF (Windows Vista and later): the low bits count references */
        if (nk_k_has(t, "_EX_FAST_REF", "RefCnt") && nk_k_types(t)) {
            nk_kfield rc;
            if (nk_k_field(t, "_EX_FAST_REF", "RefCnt", &rc) == NTKD_OK && rc.bitlen && rc.bitlen < 8 &&
                fpf.size == ps)
                fp &= ~((1ull << rc.bitlen) - 1);
        }
    }
    o->file_object = fp;
    if (fp) {
        uint64_t off;
        if (nk_k_offset(t, "_FILE_OBJECT", "FileName", &off) == NTKD_OK)
            nk_k_ustr_buf(t, fp + off, o->file_name, sizeof o->file_name);
    }
    /* segment */
    if (o->segment) {
        uint64_t sc;
        if (nk_k_read(t, o->segment, "_SEGMENT", "ControlArea", &sc) == NTKD_OK) {
            o->seg_ok = true;
            o->seg_control_area = sc;
            o->total_ptes = nk_k_get(t, o->segment, "_SEGMENT", "TotalNumberOfPtes", 0);
            o->segment_size = nk_k_get(t, o->segment, "_SEGMENT", "SizeOfSegment", 0);
            o->committed = nk_k_get(t, o->segment, "_SEGMENT", "NumberOfCommittedPages", 0);
            o->extend_info = nk_k_get(t, o->segment, "_SEGMENT", "ExtendInfo", 0);
            o->proto_ptes = nk_k_get(t, o->segment, "_SEGMENT", "PrototypePte", 0);
            uint64_t so;
            if (nk_k_offset(t, "_SEGMENT", "SegmentFlags", &so) == NTKD_OK) {
                uint32_t v = 0;
                if (nk_read_u32(t, o->segment + so, &v) == NTKD_OK) o->seg_flags = v;
            }
        }
    }
    return NTKD_OK;
}

nk_status nk_mm_subsections(ntkd_target *t, uint64_t ca, nk_mmsub *out, size_t max, size_t *n, nk_strbuf *why)
{
    *n = 0;
    uint64_t casz;
    nk_status st;
    if ((st = nk_k_sizeof(t, "_CONTROL_AREA", &casz)) != NTKD_OK) return st;
    uint64_t sub = ca + casz;
    char a[20], b[20], c[20];
    /* mapped data file: _MSUBSECTIONs with a DereferenceList */
    bool links = false;
    if (nk_k_has(t, "_MSUBSECTION", "DereferenceList")) {
        uint32_t fl = (uint32_t)nk_k_get(t, ca, "_CONTROL_AREA", "u.LongFlags", 0);
        nk_kfield ff, fi;
        links = nk_k_field(t, "_MMSECTION_FLAGS", "File", &ff) == NTKD_OK && ((fl >> ff.bitpos) & 1) &&
                nk_k_field(t, "_MMSECTION_FLAGS", "Image", &fi) == NTKD_OK && !((fl >> fi.bitpos) & 1);
    }
    while (sub && *n < max) {
        for (size_t i = 0; i < *n; i++)
            if (out[i].addr == sub)
                return nk_k_why(t, why, NTKD_E_FORMAT, "subsection chain of control area %s loops back to %s",
                                nk_k_fmt(t, ca, a), nk_k_fmt(t, sub, b));
        nk_mmsub *s = &out[*n];
        memset(s, 0, sizeof *s);
        s->addr = sub;
        if (nk_k_read(t, sub, "_SUBSECTION", "ControlArea", &s->control_area) != NTKD_OK)
            return nk_k_why(t, why, NTKD_E_NOTPRESENT, "subsection %s is not in the dump", nk_k_fmt(t, sub, a));
        if (s->control_area != ca)
            return nk_k_why(t, why, NTKD_E_FORMAT, "subsection %s belongs to control area %s, not %s",
                            nk_k_fmt(t, sub, a), nk_k_fmt(t, s->control_area, b), nk_k_fmt(t, ca, c));
        s->base_pte = nk_k_get(t, sub, "_SUBSECTION", "SubsectionBase", 0);
        s->next = nk_k_get(t, sub, "_SUBSECTION", "NextSubsection", 0);
        s->ptes = nk_k_get(t, sub, "_SUBSECTION", "PtesInSubsection", 0);
        s->starting_sector = nk_k_get(t, sub, "_SUBSECTION", "StartingSector", 0);
        s->full_sectors = nk_k_get(t, sub, "_SUBSECTION", "NumberOfFullSectors", 0);
        s->unused_ptes = nk_k_get(t, sub, "_SUBSECTION", "UnusedPtes", 0);
        s->flags = (uint32_t)nk_k_get(t, sub, "_SUBSECTION", "u.LongFlags", 0);
        s->protection = (uint32_t)nk_k_get(t, sub, "_SUBSECTION", "u.SubsectionFlags.Protection", 0);
        s->sector_end_offset = (uint32_t)nk_k_get(t, sub, "_SUBSECTION", "u.SubsectionFlags.SectorEndOffset", 0);
        if (links)
            s->have_links = nk_k_read(t, sub, "_MSUBSECTION", "DereferenceList.Flink", &s->flink) == NTKD_OK &&
                            nk_k_read(t, sub, "_MSUBSECTION", "DereferenceList.Blink", &s->blink) == NTKD_OK;
        (*n)++;
        sub = s->next;
    }
    if (sub && *n == max)
        return nk_k_why(t, why, NTKD_E_FORMAT, "control area %s: more than %zu subsections", nk_k_fmt(t, ca, a), max);
    return NTKD_OK;
}

/* ---- counters ------------------------------------------------------------------------------ */

typedef struct cdef {
    const char *key, *label, *global, *global_bytes, *part_field;
    const char *gtype, *gfield; /* the global is a structure: this field of it */
    const char *state_field;    /* else a field of nt!MiState (_MI_SYSTEM_INFORMATION, 1809+) */
    const char *sglobal;        /* else this field of a structure global: sglobal's gtype.gfield */
} cdef;
/* In !vm's order (seed 003); global_bytes: a global holding bytes instead of pages.
 * Session Commit: WinDbg sums it over the sessions; none of the x64 tables (7601, 17763, 19041,
 * 22000) nor XP's ntkrnlpa has a global for it (no MmSessionCommit), so it is reported as not
 * kept unless a build has that global. */
static const cdef counters[NK_MM_NCOUNTERS] = {
    {"PhysicalMemory", "Physical Memory:", "MmNumberOfPhysicalPages", NULL, "Vp.NumberOfPhysicalPages", NULL, NULL, NULL, NULL},
    {"AvailablePages", "Available Pages:", "MmAvailablePages", NULL, "Vp.AvailablePages", NULL, NULL, NULL, NULL},
    {"ResAvailPages", "ResAvail Pages:", "MmResidentAvailablePages", NULL, "Vp.ResidentAvailablePages", NULL, NULL, NULL, NULL},
    {"LockedIoPages", "Locked IO Pages:", "MmSystemLockPagesCount", NULL, NULL, NULL, NULL, NULL, NULL},
    /* XP: MmTotalFreeSystemPtes; Windows 7: nt!MiSystemPteInfo (_MI_SYSTEM_PTE_TYPE); 1809 and
     * later: nt!MiState.Vs.SystemPteInfo (the same type) */
    {"FreeSystemPtes", "Free System PTEs:", "MmTotalFreeSystemPtes", NULL, NULL, "_MI_SYSTEM_PTE_TYPE",
     "TotalFreeSystemPtes", "Vs.SystemPteInfo.TotalFreeSystemPtes", "MiSystemPteInfo"},
    {"ModifiedPages", "Modified Pages:", "MmModifiedPageListHead", NULL, "Vp.ModifiedPageListHead.Total", NULL, NULL, NULL, NULL},
    {"ModifiedPfPages", "Modified PF Pages:", "MmTotalPagesForPagingFile", NULL, "Vp.TotalPagesForPagingFile", NULL, NULL, NULL, NULL},
    {"NonPagedPoolUsage", "NonPagedPool Usage:", "MmAllocatedNonPagedPool", NULL, NULL, NULL, NULL,
     "Pools.AllocatedNonPagedPool", NULL},
    {"NonPagedPoolMax", "NonPagedPool Max:", "MmMaximumNonPagedPoolInPages", "MmMaximumNonPagedPoolInBytes", NULL,
     NULL, NULL, "Vs.MaximumNonPagedPoolInPages", NULL},
    {"PagedPoolUsage", "PagedPool Usage:", "MmPagedPoolInfo", NULL, NULL, "_MM_PAGED_POOL_INFO", "AllocatedPagedPool",
     "Vs.PagedPoolInfo.AllocatedPagedPool", NULL},
    {"PagedPoolMaximum", "PagedPool Maximum:", "MmSizeOfPagedPoolInPages", "MmSizeOfPagedPoolInBytes", NULL, NULL,
     NULL, "Vs.SizeOfPagedPoolInPages", NULL},
    {"SessionCommit", "Session Commit:", "MmSessionCommit", NULL, NULL, NULL, NULL, NULL, NULL},
    {"SharedCommit", "Shared Commit:", "MmSharedCommit", NULL, "Vp.SharedCommit", NULL, NULL, NULL, NULL},
    {"SpecialPool", "Special Pool:", "MmSpecialPagesInUse", NULL, NULL, NULL, NULL, "Vs.SpecialPagesInUse", NULL},
    {"ProcessCommit", "Shared Process:", "MmProcessCommit", NULL, NULL, NULL, NULL, "Vs.ProcessCommit", NULL},
    {"PagedPoolCommit", "PagedPool Commit:", "MmPagedPoolCommit", NULL, NULL, NULL, NULL, NULL, NULL},
    {"DriverCommit", "Driver Commit:", "MmDriverCommit", NULL, NULL, NULL, NULL, "Vs.DriverCommit", NULL},
    {"CommittedPages", "Committed pages:", "MmTotalCommittedPages", NULL, "Vp.TotalCommittedPages", NULL, NULL, NULL, NULL},
    {"CommitLimit", "Commit limit:", "MmTotalCommitLimit", NULL, "Vp.TotalCommitLimit", NULL, NULL, NULL, NULL},
    {"HighestPhysicalPage", "Highest page:", "MmHighestPhysicalPage", NULL, "Vp.HighestPhysicalPage", NULL, NULL, NULL, NULL},
};

const nk_mmcounter *nk_mm_counter(const nk_mmvm *vm, const char *key)
{
    for (int i = 0; i < NK_MM_NCOUNTERS; i++)
        if (vm->c[i].key && !strcmp(vm->c[i].key, key)) return vm->c[i].have ? &vm->c[i] : NULL;
    return NULL;
}

/* The paging files: count and pointer array at a global (older builds) or in the partition. */
static void pagefiles(ntkd_target *t, nk_mmvm *o, uint64_t part)
{
    uint64_t arr = 0, n = 0;
    if (o->partition) {
        uint64_t off;
        if (nk_k_read(t, part, "_MI_PARTITION", "Vp.NumberOfPagingFiles", &n) != NTKD_OK ||
            nk_k_offset(t, "_MI_PARTITION", "Vp.PagingFile", &off) != NTKD_OK)
            return;
        arr = part + off;
    } else {
        uint64_t va;
        uint32_t n32 = 0;
        if (nk_k_global(t, "MmNumberOfPagingFiles", &va) != NTKD_OK || nk_read_u32(t, va, &n32) != NTKD_OK ||
            nk_k_global(t, "MmPagingFile", &arr) != NTKD_OK)
            return;
        n = n32;
    }
    if (n > 16) n = 16; /* MAX_PAGE_FILES */
    unsigned ps = t->d.is64 ? 8 : 4;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t pf;
        if (nk_read_ptr(t, arr + i * ps, &pf) != NTKD_OK || !pf) continue;
        nk_mmpagefile *f = &o->pagefile[o->npagefiles];
        memset(f, 0, sizeof *f);
        if (nk_k_read(t, pf, "_MMPAGING_FILE", "Size", &f->size) != NTKD_OK) continue;
        f->free_space = nk_k_get(t, pf, "_MMPAGING_FILE", "FreeSpace", 0);
        f->minimum = nk_k_get(t, pf, "_MMPAGING_FILE", "MinimumSize", 0);
        f->maximum = nk_k_get(t, pf, "_MMPAGING_FILE", "MaximumSize", 0);
        uint64_t off;
        if (nk_k_offset(t, "_MMPAGING_FILE", "PageFileName", &off) == NTKD_OK)
            nk_k_ustr_buf(t, pf + off, f->name, sizeof f->name);
        o->npagefiles++;
    }
}

/* Pages in use by one _POOL_DESCRIPTOR; false when unreadable or of an unknown shape. */
static bool desc_pages(ntkd_target *t, uint64_t d, uint64_t *pages)
{
    const char *T = "_POOL_DESCRIPTOR";
    uint64_t a = 0, b = 0, c = 0, e = 0;
    if (nk_k_has(t, T, "TotalPages")) {
        if (nk_k_read(t, d, T, "TotalPages", &a) != NTKD_OK) return false;
        if (nk_k_has(t, T, "TotalBigPages") && nk_k_read(t, d, T, "TotalBigPages", &b) != NTKD_OK) return false;
        *pages = (a & 0xffffffffu) + (b & 0xffffffffu);
        return true;
    }
    if (!nk_k_has(t, T, "PagesAllocated") || !nk_k_has(t, T, "PagesDeallocated")) return false;
    if (nk_k_read(t, d, T, "PagesAllocated", &a) != NTKD_OK || nk_k_read(t, d, T, "PagesDeallocated", &b) != NTKD_OK)
        return false;
    if (nk_k_has(t, T, "BigPagesAllocated") && nk_k_has(t, T, "BigPagesDeallocated") &&
        (nk_k_read(t, d, T, "BigPagesAllocated", &c) != NTKD_OK ||
         nk_k_read(t, d, T, "BigPagesDeallocated", &e) != NTKD_OK))
        return false;
    *pages = (a - b) + (c - e);
    return true;
}

/* The descriptors of one pool type: n pointers at the global (n capped at max). */
static unsigned pool_descs(ntkd_target *t, const char *count_global, const char *arr_global, unsigned extra,
                           uint64_t *out, unsigned max)
{
    uint64_t va, arr;
    uint32_t n = 0;
    if (nk_k_global(t, count_global, &va) != NTKD_OK || nk_read_u32(t, va, &n) != NTKD_OK ||
        nk_k_global(t, arr_global, &arr) != NTKD_OK)
        return 0;
    uint64_t total = (uint64_t)n + extra;
    if (total > max) total = max;
    unsigned ps = t->d.is64 ? 8 : 4, got = 0;
    for (uint64_t i = 0; i < total; i++) {
        uint64_t d;
        if (nk_read_ptr(t, arr + i * ps, &d) != NTKD_OK || !d || !desc_pages(t, d, &out[i])) break;
        got++;
    }
    return got;
}

/* Session Commit without a global (none of the x64 tables nor XP's has MmSessionCommit):
 * _MM_SESSION_SPACE.CommittedPages summed over the sessions the processes name, each once
 * (sessionless processes such as System and smss hold 0). */
static void session_commit(ntkd_target *t, nk_mmvm *o)
{
    nk_mmcounter *c = NULL;
    for (int i = 0; i < NK_MM_NCOUNTERS; i++)
        if (!strcmp(o->c[i].key, "SessionCommit")) c = &o->c[i];
    if (!c || c->have) return;
    if (!nk_k_has(t, "_MM_SESSION_SPACE", "CommittedPages")) {
        o->session_missing = "_MM_SESSION_SPACE.CommittedPages";
        return;
    }
    if (!nk_k_has(t, "_EPROCESS", "Session")) {
        o->session_missing = "_EPROCESS.Session";
        return;
    }
    nk_kproc *ps = NULL;
    size_t n = 0;
    if (nk_k_processes(t, &ps, &n, NULL) != NTKD_OK && !ps) return;
    enum { MAXSESS = 4096 };
    uint64_t seen[64], *more = NULL;
    size_t nseen = 0, cap = 0;
    uint64_t sum = 0;
    size_t readable = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t s = 0;
        if (nk_k_read(t, ps[i].addr, "_EPROCESS", "Session", &s) != NTKD_OK) continue;
        readable++;
        if (!s) continue;
        bool dup = false;
        for (size_t k = 0; k < nseen && !dup; k++) dup = (k < 64 ? seen[k] : more[k - 64]) == s;
        if (dup) continue;
        if (nseen >= MAXSESS) break;
        if (nseen < 64) {
            seen[nseen] = s;
        } else {
            if (!nk_grow((void **)&more, &cap, nseen - 64 + 1, sizeof *more)) break;
            more[nseen - 64] = s;
        }
        nseen++;
        uint64_t v = 0;
        if (nk_k_read(t, s, "_MM_SESSION_SPACE", "CommittedPages", &v) != NTKD_OK) {
            if (!o->sessions_bad++) o->session_bad_addr = s;
            continue;
        }
        sum += v;
        o->nsessions++;
    }
    free(more);
    free(ps);
    o->session_procs_bad = (unsigned)(n - readable);
    if (!readable) { /* e.g. a triage dump: no process's EPROCESS is in it */
        o->session_missing = "no process's _EPROCESS.Session is in the dump";
        return;
    }
    c->have = true;
    c->pages = sum;
    o->session_summed = true;
}

nk_status nk_mm_counters(ntkd_target *t, nk_mmvm *o)
{
    memset(o, 0, sizeof *o);
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    uint64_t part = 0;
    o->partition = partition(t, &part);
    uint64_t mistate = 0;
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    bool have_state = nk_k_global(t, "MiState", &mistate) == NTKD_OK;
    for (int i = 0; i < NK_MM_NCOUNTERS; i++) {
        const cdef *c = &counters[i];
        nk_mmcounter *r = &o->c[i];
        r->key = c->key;
        r->label = c->label;
        if (o->partition && c->part_field) {
            if (nk_k_has(t, "_MI_PARTITION", c->part_field))
                r->have = nk_k_read(t, part, "_MI_PARTITION", c->part_field, &r->pages) == NTKD_OK;
        } else if (c->gtype && !c->sglobal) {
            uint64_t va;
            r->have = nk_k_global(t, c->global, &va) == NTKD_OK && nk_k_has(t, c->gtype, c->gfield) &&
                      nk_k_read(t, va, c->gtype, c->gfield, &r->pages) == NTKD_OK;
        } else if (!strcmp(c->key, "ModifiedPages")) {
            uint64_t va;
            r->have = nk_k_global(t, c->global, &va) == NTKD_OK &&
                      nk_k_read(t, va, "_MMPFNLIST", "Total", &r->pages) == NTKD_OK;
        } else {
            r->have = global_value(t, c->global, &r->pages);
            if (!r->have && c->global_bytes && global_value(t, c->global_bytes, &r->pages)) {
                r->have = true;
                r->pages /= 4096;
            }
        }
        if (!r->have && c->sglobal && nk_k_has(t, c->gtype, c->gfield)) {
            uint64_t va;
            r->have = nk_k_global(t, c->sglobal, &va) == NTKD_OK &&
                      nk_k_read(t, va, c->gtype, c->gfield, &r->pages) == NTKD_OK;
        }
        if (!r->have && have_state && c->state_field && nk_k_has(t, "_MI_SYSTEM_INFORMATION", c->state_field)) {
            r->have = nk_k_read(t, mistate, "_MI_SYSTEM_INFORMATION", c->state_field, &r->pages) == NTKD_OK;
            if (r->have) o->mistate = true;
        }
        if (r->have && !strcmp(c->key, "DriverCommit")) r->pages &= 0xffffffffu; /* a LONG on 1809+ */
    }
    pagefiles(t, o, part);
    session_commit(t, o);
    /* paged pools 0..ExpNumberOfPagedPools (0 is the prototype pool), nonpaged 0..n-1 */
    if (nk_k_has(t, "_POOL_DESCRIPTOR", "PoolType")) {
        o->n_pp = pool_descs(t, "ExpNumberOfPagedPools", "ExpPagedPoolDescriptor", 1, o->pp_used, 17);
        o->n_np = pool_descs(t, "ExpNumberOfNonPagedPools", "ExpNonPagedPoolDescriptor", 0, o->np_used, 16);
    }
    /* commit failures (seed 003): members 0 and 1 always, 2 up to Windows XP / 2003, 3 after */
    uint64_t fa = 0;
    bool have = false;
    if (o->partition) {
        uint64_t off;
        if (nk_k_offset(t, "_MI_PARTITION", "Vp.ChargeCommitmentFailures", &off) == NTKD_OK) {
            fa = part + off;
            have = true;
            o->failure_source = "MiSystemPartition.Vp.ChargeCommitmentFailures";
        }
    } else if (nk_k_global(t, "MiChargeCommitmentFailures", &fa) == NTKD_OK) {
        have = true;
        o->failure_source = "MiChargeCommitmentFailures";
    }
    if (have) {
        o->have_failures = true;
        for (int i = 0; i < 4; i++)
            if (nk_read_u32(t, fa + 4u * (unsigned)i, &o->failures[i]) != NTKD_OK) o->have_failures = false;
        bool old = t->d.minor && t->d.minor <= 3790;
        o->failure_count = (uint64_t)o->failures[0] + o->failures[1] + (old ? o->failures[2] : o->failures[3]);
    }
    memcpy(t->ctx->errmsg, save, sizeof save);
    return NTKD_OK;
}

/* ---- the PTE layout from the types -------------------------------------------------------- */

/* The layouts nt's _MMPTE_* types can describe (the same facts as paging.c's built-in table;
 * kept here as constants so the installed one outlives any target). */
static const nk_pte_layout K_X64_OLD = {
    .name = "x64 (types: PageFileLow at 1)", .prototype_bit = 10, .transition_bit = 11, .prot_shift = 5,
    .pfn_shift = 12, .pfn_bits = 36, .pf_num_shift = 1, .pf_num_bits = 4, .pf_off_shift = 32,
    .pf_off_bits = 32, .proto_shift = 16, .proto_bits = 48, .proto_sext48 = true, .swizzle_bit = -1};
static const nk_pte_layout K_X64_NEW = {
    .name = "x64 (types: PageFileLow at 12, SwizzleBit)", .prototype_bit = 10, .transition_bit = 11,
    .prot_shift = 5, .pfn_shift = 12, .pfn_bits = 36, .pf_num_shift = 12, .pf_num_bits = 4,
    .pf_off_shift = 32, .pf_off_bits = 32, .proto_shift = 16, .proto_bits = 48, .proto_sext48 = true,
    .swizzle_bit = 4};
static const nk_pte_layout K_X64_NEW40 = {
    .name = "x64 (types: PageFileLow at 12, 40-bit frames)", .prototype_bit = 10, .transition_bit = 11,
    .prot_shift = 5, .pfn_shift = 12, .pfn_bits = 40, .pf_num_shift = 12, .pf_num_bits = 4,
    .pf_off_shift = 32, .pf_off_bits = 32, .proto_shift = 16, .proto_bits = 48, .proto_sext48 = true,
    .swizzle_bit = 4};
static const nk_pte_layout K_PAE_OLD = {
    .name = "x86 PAE (types: PageFileLow at 1)", .prototype_bit = 10, .transition_bit = 11,
    .prot_shift = 5, .pfn_shift = 12, .pfn_bits = 26, .pf_num_shift = 1, .pf_num_bits = 4,
    .pf_off_shift = 32, .pf_off_bits = 32, .proto_shift = 32, .proto_bits = 32, .swizzle_bit = -1};

void nk_mm_use_type_pte_layout(ntkd_target *t)
{
    if (!t || t->pte_layout) return;
    if (t->d.paging != NK_PAGING_X64_4L && t->d.paging != NK_PAGING_X86_PAE) return;
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    nk_kfield pl, pfn, sw;
    bool ok = nk_k_types(t) && nk_k_has(t, "_MMPTE_SOFTWARE", "PageFileLow") &&
              nk_k_field(t, "_MMPTE_SOFTWARE", "PageFileLow", &pl) == NTKD_OK &&
              nk_k_field(t, "_MMPTE_TRANSITION", "PageFrameNumber", &pfn) == NTKD_OK;
    bool has_sw = ok && nk_k_has(t, "_MMPTE_SOFTWARE", "SwizzleBit") &&
                  nk_k_field(t, "_MMPTE_SOFTWARE", "SwizzleBit", &sw) == NTKD_OK;
    memcpy(t->ctx->errmsg, save, sizeof save);
    if (!ok) return;
    const nk_pte_layout *L = NULL;
    if (t->d.paging == NK_PAGING_X64_4L) {
        if (pl.bitpos == 1 && !has_sw) L = &K_X64_OLD;
        else if (pl.bitpos == 12 && has_sw && sw.bitpos == 4) L = pfn.bitlen == 40 ? &K_X64_NEW40 : &K_X64_NEW;
    } else if (pl.bitpos == 1 && !has_sw) {
        L = &K_PAE_OLD;
    }
    if (L) t->pte_layout = L;
}

/* ---- pages by process ---------------------------------------------------------------------- */

bool nk_mm_process_page(const nk_mmpfn *e)
{
    if (e->list == NK_MM_ZEROED || e->list == NK_MM_FREE || e->list == NK_MM_BAD) return false;
    return !e->proto;
}

static size_t owner_hash(uint64_t key) { return (size_t)(key * 0x9e3779b97f4a7c15ull >> 17); }

static nk_mm_frame_owner *owner_find(const nk_mm_owners *o, uint64_t frame)
{
    if (!o->cap) return NULL;
    uint64_t key = frame + 1;
    for (size_t h = owner_hash(key) & (o->cap - 1), k = 0; k < o->cap; h = (h + 1) & (o->cap - 1), k++) {
        if (!o->tab[h].key) return NULL;
        if (o->tab[h].key == key) return &o->tab[h];
    }
    return NULL;
}

/* Adds a frame (kept when already there: the first owner wins). */
static void owner_put(nk_mm_owners *o, uint64_t frame, uint32_t owner, uint8_t list, bool counted)
{
    if (owner_find(o, frame)) return;
    if ((o->n + 1) * 2 > o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 1024;
        if (nc > 2 * (size_t)NK_MM_OWNER_CAP) {
            o->full = true;
            return;
        }
        nk_mm_frame_owner *nt = calloc(nc, sizeof *nt);
        if (!nt) {
            o->full = true;
            return;
        }
        for (size_t i = 0; i < o->cap; i++) {
            if (!o->tab[i].key) continue;
            size_t h = owner_hash(o->tab[i].key) & (nc - 1);
            while (nt[h].key) h = (h + 1) & (nc - 1);
            nt[h] = o->tab[i];
        }
        free(o->tab);
        o->tab = nt;
        o->cap = nc;
    }
    size_t h = owner_hash(frame + 1) & (o->cap - 1);
    while (o->tab[h].key) h = (h + 1) & (o->cap - 1);
    o->tab[h].key = frame + 1;
    o->tab[h].owner = owner;
    o->tab[h].list = list;
    o->tab[h].counted = counted;
    o->n++;
}

/* A frame's entry, and whether the scan counts it as a process page (the frame is in the
 * dump, below the highest page, and its entry says so). Errors leave the context's message. */
static bool frame_entry(ntkd_target *t, const nk_mm_pfndb *db, uint64_t frame, nk_mmpfn *e, bool *counted)
{
    *counted = false;
    if (frame > db->highest || frame > (UINT64_MAX >> 12)) return false;
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    bool ok = nk_mm_pfn(t, db, frame, e) == NTKD_OK;
    memcpy(t->ctx->errmsg, save, sizeof save);
    if (!ok) return false;
    size_t avail = 0;
    *counted = nk_mm_process_page(e) && nk_phys_ptr(t, frame << 12, &avail) != NULL && avail >= 4096;
    return true;
}

nk_status nk_mm_owners_init(ntkd_target *t, const nk_mm_pfndb *db, nk_mm_owners *o, nk_strbuf *why)
{
    memset(o, 0, sizeof *o);
    nk_status st = nk_k_processes(t, &o->procs, &o->nprocs, why);
    if (st != NTKD_OK && !o->procs) return st;
    const uint64_t am = 0x000ffffffffff000ull;
    for (size_t i = 0; i < o->nprocs; i++) {
        uint64_t dtb = o->procs[i].dtb, tops[4];
        unsigned nt = 0;
        if (!dtb) continue;
        if (t->d.paging == NK_PAGING_X86_PAE) {
            /* the PDPT (32 bytes at DirectoryTableBase): the four page directories */
            uint8_t b[32];
            size_t got = 0;
            if (nk_read_phys(t, dtb & 0xffffffe0ull, b, sizeof b, &got) != NTKD_OK || got != sizeof b) continue;
            for (int k = 0; k < 4; k++) {
                uint64_t e = nk_le64(b + 8 * k);
                if (e & 1) tops[nt++] = (e & am) >> 12;
            }
        } else {
            tops[nt++] = (dtb & am) >> 12;
        }
        for (unsigned k = 0; k < nt; k++) {
            nk_mmpfn e;
            bool counted = false;
            uint8_t list = NK_MM_NLISTS;
            if (frame_entry(t, db, tops[k], &e, &counted)) list = (uint8_t)e.list;
            owner_put(o, tops[k], (uint32_t)i, list, counted);
        }
    }
    return NTKD_OK;
}

uint32_t nk_mm_page_owner(ntkd_target *t, const nk_mm_pfndb *db, nk_mm_owners *o, const nk_mmpfn *e)
{
    const nk_mm_frame_owner *s = owner_find(o, e->pfn);
    if (s) return s->owner; /* a page table (or top-level table) already met */
    enum { MAXLEVELS = 6 };
    uint64_t path[MAXLEVELS];
    uint8_t plist[MAXLEVELS];
    bool pcnt[MAXLEVELS];
    unsigned np = 0;
    uint32_t owner = NK_MM_OWNER_NONE;
    uint64_t f = e->pte_frame;
    if (f == e->pfn) return NK_MM_OWNER_NONE; /* a self-mapped top no process names */
    bool ended = false;
    for (unsigned d = 0; d < MAXLEVELS; d++) {
        if ((s = owner_find(o, f))) {
            owner = s->owner;
            ended = true;
            break;
        }
        nk_mmpfn pe;
        bool counted = false;
        if (!frame_entry(t, db, f, &pe, &counted)) {
            path[np] = f;
            plist[np] = NK_MM_NLISTS;
            pcnt[np++] = false;
            o->broken++;
            ended = true;
            break;
        }
        path[np] = f;
        plist[np] = (uint8_t)pe.list;
        pcnt[np++] = counted;
        if (pe.pte_frame == f) { /* a self-referencing top that no process names */
            ended = true;
            break;
        }
        f = pe.pte_frame;
    }
    if (!ended) o->broken++; /* deeper than any paging mode: a loop */
    for (unsigned i = 0; i < np; i++) owner_put(o, path[i], owner, plist[i], pcnt[i]);
    return owner;
}

void nk_mm_owner_tables(const nk_mm_owners *o, uint32_t owner, uint64_t *by_list)
{
    for (size_t i = 0; i < o->cap; i++) {
        const nk_mm_frame_owner *s = &o->tab[i];
        if (s->key && s->owner == owner && s->counted) by_list[s->list <= NK_MM_NLISTS ? s->list : NK_MM_NLISTS]++;
    }
}

void nk_mm_owners_free(nk_mm_owners *o)
{
    free(o->procs);
    free(o->tab);
    memset(o, 0, sizeof *o);
}

/* ---- kernel pages by what they map ----------------------------------------------------------- */
static int krange_cmp(const void *a, const void *b)
{
    const nk_mm_krange *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}
static int kmod_cmp(const void *a, const void *b)
{
    const nk_mm_kmod *x = a, *y = b;
    return x->base < y->base ? -1 : x->base > y->base;
}

/* An end global: the last byte when its low 12 bits are set, else the first byte after. */
static uint64_t end_excl(uint64_t e) { return (e & 0xfff) == 0xfff ? e + 1 : e; }

static void note_add(nk_mm_kmap *km, const char *s)
{
    size_t n = strlen(km->note);
    snprintf(km->note + n, sizeof km->note - n, "%s%s", n ? "; " : "", s);
}

static bool gptr(ntkd_target *t, const char *name, uint64_t *v)
{
    return nk_k_global_ptr(t, name, v) == NTKD_OK;
}

/* ---- system VA regions ------------------------------------------------------------------------ */
/* Where SystemVaType is: NTKD_OK with its address and entry count; NTKD_E_NOTFOUND otherwise. */
static nk_status va_table_loc(ntkd_target *t, uint64_t *addr, size_t *n, bool *state_zero)
{
    nk_kfield f;
    uint64_t vis = 0;
    *state_zero = false;
    if (!t->d.is64 || !nk_k_has(t, "_MI_VISIBLE_STATE", "SystemVaType") ||
        nk_k_field(t, "_MI_VISIBLE_STATE", "SystemVaType", &f) != NTKD_OK ||
        nk_k_global_ptr(t, "MiVisibleState", &vis) != NTKD_OK)
        return NTKD_E_NOTFOUND;
    if (!vis) {
        *state_zero = true;
        return NTKD_E_NOTFOUND;
    }
    *addr = vis + f.off;
    *n = f.size && f.size < 256 ? (size_t)f.size : 256;
    return NTKD_OK;
}

nk_status nk_mm_va_table(ntkd_target *t, nk_mm_vatab *tab)
{
    memset(tab, 0, sizeof *tab);
    nk_status st = va_table_loc(t, &tab->addr, &tab->n, &tab->state_zero);
    if (st != NTKD_OK) return st;
    size_t got = 0;
    if (nk_read_virt(t, tab->addr, tab->vt, tab->n, &got) != NTKD_OK || got != tab->n) {
        memset(tab->vt, 0, sizeof tab->vt);
        return NTKD_E_NOTPRESENT;
    }
    return NTKD_OK;
}

nk_status nk_mm_va_region(ntkd_target *t, const nk_mm_vatab *tab, uint64_t va, nk_mm_varegion *out)
{
    memset(out, 0, sizeof *out);
    out->type = -1;
    uint64_t addr = 0;
    size_t n = 0;
    bool zero = false;
    if (tab) {
        addr = tab->addr;
        n = tab->n;
    } else {
        nk_status st = va_table_loc(t, &addr, &n, &zero);
        if (st != NTKD_OK) return st;
    }
    if (va < 0xffff800000000000ull) return NTKD_OK; /* user half: no system region */
    unsigned idx = (unsigned)((va >> 39) & 0xff);
    if (idx >= n) return NTKD_OK;
    uint8_t v = 0;
    if (tab) {
        v = tab->vt[idx];
    } else {
        size_t got = 0;
        if (nk_read_virt(t, addr + idx, &v, 1, &got) != NTKD_OK || got != 1) return NTKD_E_NOTPRESENT;
    }
    out->in_table = true;
    out->index = idx;
    out->entry = addr + idx;
    out->type = v;
    char nb[64];
    const char *nm = nk_k_enum_name(t, "_MI_SYSTEM_VA_TYPE", v, nb, sizeof nb);
    snprintf(out->name, sizeof out->name, "%s", nm ? nm : "");
    return NTKD_OK;
}

static void pool_ranges(ntkd_target *t, nk_mm_kmap *km)
{
    nk_mm_vatab tab;
    nk_status vst = nk_mm_va_table(t, &tab);
    if (vst != NTKD_E_NOTFOUND) {
        memcpy(km->vt, tab.vt, sizeof km->vt);
        if (vst == NTKD_OK) {
            km->vatype = true;
            km->pool_source = "nt!MiVisibleState->SystemVaType";
            if (!nk_k_enum_value(t, "_MI_SYSTEM_VA_TYPE", "MiVaPagedPool", &km->vt_paged)) km->vt_paged = -1;
            if (!nk_k_enum_value(t, "_MI_SYSTEM_VA_TYPE", "MiVaNonPagedPool", &km->vt_nonpaged)) km->vt_nonpaged = -1;
            if (!nk_k_enum_value(t, "_MI_SYSTEM_VA_TYPE", "MiVaSecureNonPagedPool", &km->vt_nonpaged2))
                km->vt_nonpaged2 = -1;
            if (!nk_k_enum_value(t, "_MI_SYSTEM_VA_TYPE", "MiVaKernelStacks", &km->vt_stacks)) km->vt_stacks = -1;
            if (km->vt_paged < 0 || km->vt_nonpaged < 0)
                note_add(km, "_MI_SYSTEM_VA_TYPE lacks MiVaPagedPool or MiVaNonPagedPool: pool pages not told apart");
            return;
        }
        note_add(km, "nt!MiVisibleState->SystemVaType is not in the dump: pool pages not told apart");
        return;
    }
    if (tab.state_zero) {
        note_add(km, "nt!MiVisibleState is 0 (no SystemVaType): pool pages not told apart");
        return;
    }
    uint64_t ps = 0, pe = 0, ns = 0, ne = 0, nsz = 0, nx = 0;
    /* paged pool */
    bool have_pe = gptr(t, "MmPagedPoolEnd", &pe) && pe;
    bool have_ps = gptr(t, "MmPagedPoolStart", &ps) && ps;
    if (!have_ps && have_pe) {
        uint64_t info, pte = 0;
        if (nk_k_global(t, "MmPagedPoolInfo", &info) == NTKD_OK &&
            nk_k_read(t, info, "_MM_PAGED_POOL_INFO", "FirstPteForPagedPool", &pte) == NTKD_OK && pte &&
            nk_pte_addr_to_va(t, pte, &ps))
            have_ps = true;
    }
    if (have_ps && have_pe && end_excl(pe) > ps) {
        km->paged[km->npaged++] = (nk_mm_krange){ps, end_excl(pe)};
    } else {
        note_add(km, "nt!MmPagedPoolStart (or MmPagedPoolInfo.FirstPteForPagedPool) / MmPagedPoolEnd missing or 0: no paged pool range");
    }
    /* nonpaged pool */
    bool have_ns = gptr(t, "MmNonPagedPoolStart", &ns) && ns;
    bool have_ne = (gptr(t, "MmNonPagedPoolEnd", &ne) || gptr(t, "MiNonPagedPoolEnd", &ne)) && ne;
    if (have_ns && have_ne && gptr(t, "MmNonPagedPoolExpansionStart", &nx) && nx &&
        gptr(t, "MmSizeOfNonPagedPoolInBytes", &nsz) && nsz) {
        km->nonpaged[km->nnonpaged++] = (nk_mm_krange){ns, ns + nsz};
        if (end_excl(ne) > nx) km->nonpaged[km->nnonpaged++] = (nk_mm_krange){nx, end_excl(ne)};
    } else if (have_ns && have_ne && end_excl(ne) > ns) {
        km->nonpaged[km->nnonpaged++] = (nk_mm_krange){ns, end_excl(ne)};
    } else {
        note_add(km, "nt!MmNonPagedPoolStart / MmNonPagedPoolEnd (MiNonPagedPoolEnd) missing or 0: no nonpaged pool range");
    }
    if (km->npaged || km->nnonpaged) km->pool_source = "nt's pool range globals";
}

static void stack_ranges(ntkd_target *t, nk_mm_kmap *km)
{
    nk_kproc *ps = NULL;
    size_t np = 0, cap = 0;
    if (nk_k_processes(t, &ps, &np, NULL) != NTKD_OK && !ps) {
        note_add(km, "no process list: kernel stacks not told apart");
        return;
    }
    for (size_t i = 0; i < np && km->nstacks < NK_MM_KMAP_MAX_STACKS; i++) {
        nk_kthread *th = NULL;
        size_t nt = 0;
        if (nk_k_threads(t, ps[i].addr, &th, &nt, NULL) != NTKD_OK && !th) continue;
        for (size_t k = 0; k < nt && km->nstacks < NK_MM_KMAP_MAX_STACKS; k++) {
            uint64_t lo = th[k].stack_limit & ~0xfffull, hi = th[k].stack_base;
            if (!lo || hi <= lo || hi - lo > (64ull << 20) || lo < km->kernel_start) continue;
            if (!nk_grow((void **)&km->stacks, &cap, km->nstacks + 1, sizeof *km->stacks)) break;
            km->stacks[km->nstacks++] = (nk_mm_krange){lo, hi};
        }
        free(th);
    }
    free(ps);
    if (!km->nstacks) return;
    qsort(km->stacks, km->nstacks, sizeof *km->stacks, krange_cmp);
    size_t w = 0;
    for (size_t i = 1; i < km->nstacks; i++) {
        if (km->stacks[i].lo <= km->stacks[w].hi) {
            if (km->stacks[i].hi > km->stacks[w].hi) km->stacks[w].hi = km->stacks[i].hi;
        } else {
            km->stacks[++w] = km->stacks[i];
        }
    }
    km->nstacks = w + 1;
}

nk_status nk_mm_kmap_init(ntkd_target *t, nk_mm_kmap *km)
{
    memset(km, 0, sizeof *km);
    km->vt_paged = km->vt_nonpaged = km->vt_nonpaged2 = km->vt_stacks = -1;
    km->kernel_start = t->d.is64 ? 0xffff800000000000ull : 0x80000000ull;
    if (!nk_k_types(t)) return NTKD_E_NOTFOUND;
    char save[sizeof t->ctx->errmsg];
    memcpy(save, t->ctx->errmsg, sizeof save);
    nk_pool_mod *mods = NULL;
    size_t nm = 0;
    if (nk_pool_modules(t, &mods, &nm, NULL) == NTKD_OK || mods) {
        if (nm > NK_MM_KMAP_MAX_MODS) nm = NK_MM_KMAP_MAX_MODS;
        km->mods = calloc(nm ? nm : 1, sizeof *km->mods);
        for (size_t i = 0; km->mods && i < nm; i++) {
            if (!mods[i].base || !mods[i].size || mods[i].base + mods[i].size < mods[i].base) continue;
            nk_mm_kmod *d = &km->mods[km->nmods++];
            d->base = mods[i].base;
            d->end = mods[i].base + mods[i].size;
            snprintf(d->name, sizeof d->name, "%s", mods[i].name);
        }
        if (km->nmods) qsort(km->mods, km->nmods, sizeof *km->mods, kmod_cmp);
    } else {
        note_add(km, "no module list: driver images not told apart");
    }
    free(mods);
    stack_ranges(t, km);
    pool_ranges(t, km);
    memcpy(t->ctx->errmsg, save, sizeof save);
    return NTKD_OK;
}

static bool in_ranges(const nk_mm_krange *r, size_t n, uint64_t va)
{
    size_t lo = 0, hi = n; /* sorted, disjoint: the last range starting at or below va */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].lo <= va) lo = mid + 1;
        else hi = mid;
    }
    return lo && va < r[lo - 1].hi;
}

unsigned nk_mm_kclass(ntkd_target *t, const nk_mm_kmap *km, const nk_mmpfn *e, size_t *mod)
{
    uint64_t va, inner;
    if (e->proto || !e->pte_addr || !nk_pte_addr_to_va(t, e->pte_addr, &va)) return NK_MM_K_NONE;
    if (va < km->kernel_start || nk_pte_addr_to_va(t, va, &inner)) return NK_MM_K_NONE;
    size_t lo = 0, hi = km->nmods;
    while (lo < hi) { /* modules may overlap only when corrupt: the nearest base below wins */
        size_t mid = lo + (hi - lo) / 2;
        if (km->mods[mid].base <= va) lo = mid + 1;
        else hi = mid;
    }
    if (lo && va < km->mods[lo - 1].end) {
        if (mod) *mod = lo - 1;
        return NK_MM_K_DRIVER;
    }
    if (in_ranges(km->stacks, km->nstacks, va)) return NK_MM_K_STACKS;
    if (km->vatype && t->d.is64) {
        int64_t v = km->vt[(va >> 39) & 0xff];
        if (v == km->vt_paged) return NK_MM_K_PAGED;
        if (v == km->vt_nonpaged || v == km->vt_nonpaged2) return NK_MM_K_NONPAGED;
        if (v == km->vt_stacks) return NK_MM_K_STACKS;
        return NK_MM_K_OTHER;
    }
    for (unsigned i = 0; i < km->npaged; i++)
        if (va >= km->paged[i].lo && va < km->paged[i].hi) return NK_MM_K_PAGED;
    for (unsigned i = 0; i < km->nnonpaged; i++)
        if (va >= km->nonpaged[i].lo && va < km->nonpaged[i].hi) return NK_MM_K_NONPAGED;
    return NK_MM_K_OTHER;
}

void nk_mm_kmap_free(nk_mm_kmap *km)
{
    free(km->mods);
    free(km->stacks);
    memset(km, 0, sizeof *km);
}
