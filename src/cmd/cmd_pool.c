/* cmd_pool.c: the pool commands in WinDbg's shapes (seeds 001, 002, 003).
 *
 *   !pool addr [flags]              the big-pool table first ("*ADDR : large page allocation,
 *                                   tag Leak, size 0x2000 bytes"); special pool ("region is
 *                                   Special pool": the one allocation of the page, its pattern
 *                                   checked) and session pool (kpool_special.c); on 19H1+ builds
 *                                   the segment heap (kpool_seg.c: the VS or LFH subsegment
 *                                   holding addr, chunk headers decoded and chained; a session
 *                                   address in the session's paged heap, a special-pool one in
 *                                   nt!ExPoolState.SpecialHeaps' heaps); else the
 *                                   walk of the classic pool page holding addr: one line per
 *                                   block, '*' on the one holding addr, the previous-size check on
 *                                   every header; a corrupt chain names the bad header and the
 *                                   walk resumes at the first later header whose chain reaches
 *                                   the page end
 *   !poolused [flags] [/t N] [tag]  the tracker table per tag (flags 2: sort by nonpaged bytes,
 *                                   4: by paged bytes; default by tag), the TOTAL line, each
 *                                   tag's likely owner (the loaded images holding the tag's
 *                                   bytes, as `!for_each_module s -a @#Base @#End "Tag"`), and a
 *                                   note naming the tags that dominate usage and their drivers
 *                                   (counts summed over PoolTrackTable, every processor's table of
 *                                   nt!ExPoolTagTables and the expansion table; a note says how
 *                                   many tables); flag 8: the current session's pool (the session
 *                                   tracker table and its expansion table), combinable with 2/4,
 *                                   /t N and a tag ("!poolused 8 2", "!poolused 0xa U*")
 *   !poolfind tag [pooltype]        the big-pool table, then every block of the segment heaps
 *                                   (19H1+: ExPoolState's, every session's paged heap, the
 *                                   special-pool heaps) or every present kernel page that starts a
 *                                   pool-header chain (pooltype 0 nonpaged, 1 paged)
 * The reading is src/kobj/kpool.c's; this file prints text and JSON in the same pass. */
#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "expr/expr.h"
#include "kobj/kpool.h"
#include "kobj/kpool_seg.h"
#include "kobj/kpool_special.h"
#include "mem/mem.h"

static void why_add(nk_strbuf *why, const char *msg) { nk_sb_printf(why, "%s\n", msg); }

static const char *tagtxt(uint32_t key, char buf[5])
{
    nk_pool_tag_str(key, buf);
    return buf;
}

/* Owners of one tag: "leakydrv.sys" (the first hit's address in *hit). */
static void owners_of_key(ntkd_target *t, uint32_t key, nk_pool_tag *one, nk_pool_mod **mods, size_t *nmods,
                          nk_strbuf *why)
{
    memset(one, 0, sizeof *one);
    one->key = key;
    nk_pool_tag_str(key, one->tag);
    if (!*mods && nk_pool_modules(t, mods, nmods, why) != NTKD_OK) return;
    nk_pool_find_owners(t, one, 1, *mods, *nmods, why);
}

static void print_owner_text(nk_out *o, ntkd_target *t, const nk_pool_tag *g, const nk_pool_mod *mods)
{
    char b[24];
    if (!g->nowners) {
        nk_printf(o, "no loaded image holds the tag bytes");
        return;
    }
    for (unsigned i = 0; i < g->nowners; i++)
        nk_printf(o, "%s%s (tag at %s%s)", i ? ", " : "", mods[g->owners[i].mod].name,
                  nk_fmt_hex(b, g->owners[i].hit, t->d.is64), g->owners[i].from_store ? ", store image" : "");
}

static void json_owners(nk_out *o, json_object *parent, const nk_pool_tag *g, const nk_pool_mod *mods)
{
    json_object *arr = nk_json_arr(o, parent, "owners");
    for (unsigned i = 0; i < g->nowners; i++) {
        json_object *x = nk_json_obj(o, arr, NULL);
        nk_json_str(o, x, "module", mods[g->owners[i].mod].name);
        nk_json_u64(o, x, "base", mods[g->owners[i].mod].base);
        nk_json_u64(o, x, "hit", g->owners[i].hit);
        nk_json_bool(o, x, "from_store", g->owners[i].from_store);
    }
}

/* ---- !pool -------------------------------------------------------------------------------- */

/* flag 1: the first bytes of the block's data as dwords */
static void block_contents(nk_out *o, ntkd_target *t, const nk_pool_block *b, unsigned unit)
{
    uint8_t d[0x20];
    size_t want = b->size > unit ? b->size - unit : 0, got = 0;
    if (want > sizeof d) want = sizeof d;
    if (!want) return;
    nk_read_virt(t, b->addr + unit, d, want, &got);
    char a[24];
    for (size_t off = 0; off + 4 <= got; off += 16) {
        nk_printf(o, "    %s ", nk_fmt_hex(a, b->addr + unit + off, t->d.is64));
        for (size_t k = off; k < off + 16 && k + 4 <= got; k += 4) nk_printf(o, " %08x", nk_le32(d + k));
        nk_printf(o, "\n");
    }
}

static void block_line(nk_out *o, ntkd_target *t, const nk_pool_block *b, bool star, json_object *arr)
{
    char a[24], tg[5];
    nk_printf(o, "%c%s size: %4x previous size: %4x  %s %s%s%s\n", star ? '*' : ' ', nk_fmt_hex(a, b->addr, t->d.is64), b->size,
              b->prev_size, b->free_ ? "(Free)     " : "(Allocated)", star ? "*" : "", tagtxt(b->key, tg),
              b->protected_ ? " (Protected)" : "");
    json_object *x = nk_json_obj(o, arr, NULL);
    nk_json_u64(o, x, "address", b->addr);
    nk_json_int(o, x, "size", b->size);
    nk_json_int(o, x, "previous_size", b->prev_size);
    nk_json_str(o, x, "tag", tg);
    nk_json_bool(o, x, "free", b->free_);
    nk_json_bool(o, x, "protected", b->protected_);
    nk_json_int(o, x, "pool_type", b->pool_type);
    nk_json_int(o, x, "pool_index", b->pool_index);
    nk_json_bool(o, x, "holds_address", star);
    nk_json_bool(o, x, "after_resync", b->after_resync);
}

/* ---- segment-heap pool (19H1 and later: src/kobj/kpool_seg.c) ------------------------------ */

static void seg_block_line(nk_out *o, ntkd_target *t, const nk_pool_block *b, bool star, json_object *arr)
{
    char a[24], tg[5] = "";
    if (!b->free_ || b->key) nk_pool_tag_str(b->key, tg);
    nk_printf(o, "%c%s size: %4x previous size: %4x  %s %s%s%s\n", star ? '*' : ' ', nk_fmt_hex(a, b->addr, t->d.is64),
              b->size, 0u, b->free_ ? "(Free)     " : "(Allocated)", star ? "*" : "", tg,
              b->protected_ ? " (Protected)" : "");
    json_object *x = nk_json_obj(o, arr, NULL);
    nk_json_u64(o, x, "address", b->addr);
    nk_json_int(o, x, "size", b->size);
    nk_json_int(o, x, "previous_size", 0);
    nk_json_str(o, x, "tag", tg);
    nk_json_bool(o, x, "free", b->free_);
    nk_json_bool(o, x, "protected", b->protected_);
    nk_json_int(o, x, "pool_type", b->pool_type);
    nk_json_bool(o, x, "holds_address", star);
    nk_json_bool(o, x, "after_resync", b->after_resync);
}

/* Heaps besides ExPoolState's that seg_pool reads (the session and special-pool paths). */
typedef struct seg_extra {
    const nk_session_hit *sh; /* the session holding addr: its PagedHeap */
    bool special;             /* nt!ExPoolState.SpecialHeaps[] */
    bool region_said;         /* the caller printed the region line and its JSON */
} seg_extra;

static const char *heap_src_name(int src)
{
    return src == NK_SEG_SRC_SESSION ? "session" : src == NK_SEG_SRC_SPECIAL ? "special" : "pool";
}

/* !pool on a segment-heap build, after the big-pool table: the page's blocks of the VS or LFH
 * subsegment holding addr (x: the extra heaps to read, NULL for ExPoolState's only). */
static nk_status seg_pool(nk_cmd_env *e, uint64_t addr, uint64_t flags, nk_strbuf *why, nk_pool_mod **mods,
                          size_t *nmods, const seg_extra *x)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const bool is64 = t->d.is64;
    const bool only_hit = flags & 2, no_tagline = flags & 0x80000000ull, contents = flags & 1;
    char b1[24], b2[24], tg[5];
    nk_json_bool(o, NULL, "segment_heap", true);
    nk_segpool *sp = malloc(sizeof *sp);
    if (!sp) return NTKD_E_NOMEM;
    nk_status st = nk_seg_init(t, sp, why);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "!pool: %s is not in the big-pool table, and the pool's segment heaps cannot be read: %s",
                     nk_fmt_hex(b1, addr, is64), nk_cmd_errmsg(t));
        free(sp);
        return st;
    }
    if (x && x->sh) {
        st = nk_seg_add_heap(sp, x->sh->paged_heap, NK_SEG_SRC_SESSION, 2, "Paged session pool", NULL);
        if (st != NTKD_OK) {
            nk_cmd_error(o, "!pool: the paged heap of session %llu (_MM_SESSION_SPACE %s, HeapState %s -> "
                            "_EX_HEAP_SESSION_STATE.PagedHeap) cannot be read: %s",
                         (unsigned long long)x->sh->session_id, nk_fmt_hex(b1, x->sh->session, is64),
                         nk_fmt_hex(b2, x->sh->heap_state, is64), nk_cmd_errmsg(t));
            free(sp);
            return st;
        }
        for (size_t i = 0; i < sp->nheaps; i++)
            if (sp->heaps[i].heap == x->sh->paged_heap && sp->heaps[i].src == NK_SEG_SRC_SESSION) {
                sp->heaps[i].session = x->sh->session;
                sp->heaps[i].session_id = x->sh->session_id;
            }
    }
    if (x && x->special) {
        size_t before = sp->nheaps;
        nk_strbuf hw = {0};
        size_t added = nk_seg_add_special_heaps(sp, &hw);
        if (!added && before == sp->nheaps) {
            while (hw.len && hw.s[hw.len - 1] == '\n') hw.s[--hw.len] = 0;
            nk_cmd_error(o, "!pool: %s: no segment heap of nt!ExPoolState.SpecialHeaps can be read (%s): the block is "
                            "not decoded",
                         nk_fmt_hex(b1, addr, is64), hw.len ? hw.s : "every slot is NULL");
            nk_sb_free(&hw);
            free(sp);
            return NTKD_E_FORMAT;
        }
        if (hw.len) nk_sb_printf(why, "%s", hw.s);
        nk_sb_free(&hw);
    }
    nk_seg_loc loc;
    st = nk_seg_locate(sp, addr, &loc);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "!pool: %s is not in the big-pool table: %s", nk_fmt_hex(b1, addr, is64), nk_cmd_errmsg(t));
        free(sp);
        return st;
    }
    const nk_seg_heapref *hr = &sp->heaps[loc.heap_i];
    const char *region = nk_seg_region(hr);
    const bool say_region = !(x && x->region_said);
    nk_json_u64(o, NULL, "heap", hr->heap);
    nk_json_str(o, NULL, "heap_name", nk_seg_heapref_name(hr));
    nk_json_str(o, NULL, "heap_source", heap_src_name(hr->src));
    if (hr->src == NK_SEG_SRC_POOL) nk_json_int(o, NULL, "pool_node", hr->node);
    if (hr->src == NK_SEG_SRC_SPECIAL) nk_json_int(o, NULL, "special_heap_slot", hr->node);
    nk_json_u64(o, NULL, "segment", loc.segment);
    nk_json_int(o, NULL, "context", loc.ctx_i);
    nk_json_u64(o, NULL, "range", loc.range);
    nk_json_u64(o, NULL, "range_bytes", loc.range_bytes);
    if (say_region) nk_json_str(o, NULL, "region", region);
    if (loc.kind != NK_SEG_VS && loc.kind != NK_SEG_LFH) {
        const char *what = loc.kind == NK_SEG_META ? "the header (_HEAP_PAGE_SEGMENT, range descriptors) of"
                         : loc.kind == NK_SEG_FREE ? "a free page range of"
                                                   : "a large range (not in the big-pool table) of";
        nk_json_str(o, NULL, "range_kind", loc.kind == NK_SEG_META ? "segment_header" : loc.kind == NK_SEG_FREE ? "free" : "large");
        if (say_region) nk_printf(o, "Pool page %s region is %s\n", nk_fmt_hex(b1, addr, is64), region);
        char b3[24], b4[24];
        nk_printf(o, "%s is in %s segment %s of the %s segment heap %s (range %s, 0x%llx bytes): no pool block holds it\n",
                  nk_fmt_hex(b1, addr, is64), what, nk_fmt_hex(b2, loc.segment, is64), nk_seg_heapref_name(hr),
                  nk_fmt_hex(b3, hr->heap, is64), nk_fmt_hex(b4, loc.range, is64), (unsigned long long)loc.range_bytes);
        free(sp);
        return NTKD_OK;
    }
    nk_seg_sub sub;
    st = nk_seg_walk_sub(sp, &loc, &sub);
    free(sp);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "!pool: %s", nk_cmd_errmsg(t));
        return st;
    }
    uint64_t page = addr & ~0xfffull;
    nk_json_str(o, NULL, "range_kind", sub.lfh ? "lfh" : "vs");
    nk_json_u64(o, NULL, "subsegment", sub.start);
    nk_json_u64(o, NULL, "page", page);
    if (say_region) nk_printf(o, "Pool page %s region is %s\n", nk_fmt_hex(b1, addr, is64), region);
    json_object *arr = nk_json_arr(o, NULL, "blocks");
    const nk_pool_block *target = NULL;
    for (size_t i = 0; i < sub.n; i++) {
        const nk_pool_block *b = &sub.b[i];
        if (b->addr >= page + 0x1000 || b->addr + b->size <= page) continue;
        bool star = addr >= b->addr && addr - b->addr < b->size;
        if (star) target = b;
        if (only_hit && !star) continue;
        seg_block_line(o, t, b, star, arr);
        if (contents) block_contents(o, t, b, 16);
    }
    bool in_bad = false;
    if (sub.corrupt) {
        nk_json_bool(o, NULL, "corrupt", true);
        nk_json_u64(o, NULL, "bad_header", sub.bad_chunk);
        nk_json_str(o, NULL, "corruption", sub.why);
        nk_printf(o, "%s\n", sub.why);
        nk_printf(o, "\n***\n*** An error (or corruption) in the pool was detected;\n");
        nk_printf(o, "*** the %s at %s breaks the %s subsegment at %s.\n***\n",
                  sub.lfh ? "subsegment header" : "chunk header", nk_fmt_hex(b1, sub.bad_chunk, is64),
                  sub.lfh ? "LFH" : "VS", nk_fmt_hex(b2, sub.start, is64));
        nk_printf(o, "Pool page [ %s ] is __inVALID.\n\n", nk_fmt_hex(b1, page, is64));
        if (sub.bad_end > sub.bad_chunk) {
            nk_json_u64(o, NULL, "corrupt_end", sub.bad_end);
            nk_printf(o, "[ %s --> %s (size = 0x%llx bytes)]: Corrupt region\n", nk_fmt_hex(b1, sub.bad_chunk, is64),
                      nk_fmt_hex(b2, sub.bad_end, is64), (unsigned long long)(sub.bad_end - sub.bad_chunk));
            if (addr >= sub.bad_chunk && addr < sub.bad_end) {
                in_bad = true;
                nk_printf(o, "%s lies in the corrupt region: its block cannot be told\n", nk_fmt_hex(b1, addr, is64));
                nk_json_bool(o, NULL, "address_in_corrupt_region", true);
            }
            if (sub.resync_at) {
                nk_json_u64(o, NULL, "resync_at", sub.resync_at);
                nk_printf(o, "The walk resumed at %s (the chunk header after the corrupt region, from which a consistent "
                             "chain reaches the subsegment end)\n", nk_fmt_hex(b1, sub.resync_at, is64));
            }
        }
    }
    if (sub.notes.len) nk_sb_printf(why, "%s", sub.notes.s);
    if (target && !no_tagline) {
        nk_pool_tag one;
        if (!target->free_) {
            owners_of_key(t, target->key, &one, mods, nmods, why);
            nk_printf(o, "\t\tPooltag %s : ", tagtxt(target->key, tg));
            print_owner_text(o, t, &one, *mods);
            nk_printf(o, "\n");
        }
        json_object *jt = nk_json_obj(o, NULL, "target");
        nk_json_u64(o, jt, "block", target->addr);
        nk_json_str(o, jt, "tag", target->free_ ? "" : tagtxt(target->key, tg));
        if (!target->free_) json_owners(o, jt, &one, *mods);
    } else if (!target && !in_bad) {
        nk_printf(o, "%s is not inside any block of the %s subsegment %s (a chunk header or the subsegment's own header)\n",
                  nk_fmt_hex(b1, addr, is64), sub.lfh ? "LFH" : "VS", nk_fmt_hex(b2, sub.start, is64));
    }
    nk_seg_sub_free(&sub);
    return NTKD_OK;
}

/* !poolfind on a segment-heap build: every block of every heap. */
typedef struct segfind {
    ntkd_target *t;
    nk_out *o;
    uint32_t key;
    int want;
    json_object *arr;
    uint64_t hits;
    const nk_segpool *sp;
} segfind;

static bool segfind_block(void *u, const nk_seg_sub *sub, const nk_pool_block *b)
{
    segfind *c = u;
    if (b->free_ || b->key != c->key) return true;
    int paged = nk_seg_paged(sub->pool_index) ? 1 : 0;
    if (c->want >= 0 && paged != c->want) return true;
    char a[24], tg[5];
    nk_pool_tag_str(b->key, tg);
    c->hits++;
    const nk_seg_heapref *hr = sub->heap_i < c->sp->nheaps ? &c->sp->heaps[sub->heap_i] : NULL;
    const char *region = hr ? nk_seg_region(hr) : paged ? "Paged pool" : "Nonpaged pool";
    nk_printf(c->o, "%s : tag %s, size %#10x, %s%s\n", nk_fmt_hex(a, b->addr, c->t->d.is64), tg, b->size, region,
              sub->corrupt ? " (subsegment with a corrupt header)" : "");
    json_object *x = nk_json_obj(c->o, c->arr, NULL);
    nk_json_u64(c->o, x, "address", b->addr);
    nk_json_int(c->o, x, "size", b->size);
    nk_json_bool(c->o, x, "free", false);
    nk_json_str(c->o, x, "pool", paged ? "paged" : "nonpaged");
    nk_json_str(c->o, x, "region", region);
    nk_json_u64(c->o, x, "heap", sub->heap);
    if (hr && hr->src == NK_SEG_SRC_SESSION) {
        nk_json_u64(c->o, x, "session_space", hr->session);
        if (hr->session_id != UINT64_MAX) nk_json_int(c->o, x, "session_id", (int64_t)hr->session_id);
    }
    nk_json_str(c->o, x, "subsegment_kind", sub->lfh ? "lfh" : "vs");
    nk_json_u64(c->o, x, "subsegment", sub->start);
    nk_json_bool(c->o, x, "page_corrupt", sub->corrupt);
    return true;
}

static uint64_t seg_poolfind(nk_cmd_env *e, uint32_t key, int want, nk_strbuf *why)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    char tg[5];
    nk_pool_tag_str(key, tg);
    segfind c = {.t = t, .o = o, .key = key, .want = want};
    c.arr = nk_json_arr(o, NULL, "small");
    nk_segpool *sp = malloc(sizeof *sp);
    if (!sp) return 0;
    if (nk_seg_init(t, sp, why) != NTKD_OK) {
        nk_printf(o, "\nThe pool's segment heaps cannot be read: %s\n", nk_cmd_errmsg(t));
        free(sp);
        return 0;
    }
    c.sp = sp;
    size_t npool = sp->nheaps;
    size_t nsess = nk_seg_add_session_heaps(sp, why);
    size_t nspec = nk_seg_add_special_heaps(sp, why);
    nk_printf(o, "\nSearching the pool's segment heaps (%zu heaps of nt!ExPoolState, %zu session paged heap%s, %zu special-pool "
                 "heap%s; VS and LFH subsegments) for tag %s\n\n",
              npool, nsess, nsess == 1 ? "" : "s", nspec, nspec == 1 ? "" : "s", tg);
    nk_json_int(o, NULL, "pool_heaps", (int64_t)npool);
    nk_json_int(o, NULL, "session_heaps", (int64_t)nsess);
    nk_json_int(o, NULL, "special_heaps", (int64_t)nspec);
    nk_seg_stats st;
    nk_seg_each_block(sp, segfind_block, &c, &st, why);
    nk_printf(o, "%llu segments, %llu subsegments, %llu blocks walked", (unsigned long long)st.segments,
              (unsigned long long)st.subsegments, (unsigned long long)st.blocks);
    if (st.corrupt_subsegments)
        nk_printf(o, " (%llu subsegments with a corrupt header: run !pool on them)", (unsigned long long)st.corrupt_subsegments);
    nk_printf(o, "\n");
    nk_json_int(o, NULL, "segments", (int64_t)st.segments);
    nk_json_int(o, NULL, "subsegments", (int64_t)st.subsegments);
    nk_json_int(o, NULL, "blocks_walked", (int64_t)st.blocks);
    nk_json_int(o, NULL, "corrupt_subsegments", (int64_t)st.corrupt_subsegments);
    free(sp);
    return c.hits;
}

/* ---- special pool and session pool (src/kobj/kpool_special.c) ----------------------------- */

static void special_contents(nk_out *o, ntkd_target *t, uint64_t data, uint32_t size)
{
    uint8_t d[0x20];
    size_t want = size < sizeof d ? size : sizeof d, got = 0;
    nk_read_virt(t, data, d, want, &got);
    char a[24];
    for (size_t off = 0; off + 4 <= got; off += 16) {
        nk_printf(o, "    %s ", nk_fmt_hex(a, data + off, t->d.is64));
        for (size_t k = off; k < off + 16 && k + 4 <= got; k += 4) nk_printf(o, " %08x", nk_le32(d + k));
        nk_printf(o, "\n");
    }
}

/* !pool on a special-pool address (every build), and on a session pool address that the classic
 * walk cannot show (segment-heap builds; a page the dump lacks). Returns true when it printed the
 * answer (*rc set); false when addr is neither and the other paths go on. */
static bool special_pool_cmd(nk_cmd_env *e, uint64_t addr, uint64_t flags, nk_strbuf *why, nk_pool_mod **mods,
                             size_t *nmods, nk_status *rc)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const bool is64 = t->d.is64;
    char b1[24], b2[24], tg[5];
    nk_special sp;
    if (nk_pool_special(t, addr, &sp) == NTKD_OK && sp.special) {
        nk_json_str(o, NULL, "region", "Special pool");
        nk_json_u64(o, NULL, "page", sp.page);
        json_object *js = nk_json_obj(o, NULL, "special_pool");
        nk_json_str(o, js, "found_by", sp.how);
        if (sp.region_paged >= 0) nk_json_str(o, js, "region_type", sp.region_paged ? "paged" : "nonpaged");
        nk_json_bool(o, js, "present", sp.present);
        nk_printf(o, "Pool page %s region is Special pool\n", nk_fmt_hex(b1, addr, is64));
        if (sp.segment_heap) {
            nk_json_bool(o, js, "segment_heap", true);
            json_object *jh = nk_json_arr(o, js, "special_heaps");
            nk_strbuf hl = {0};
            for (unsigned i = 0; i < sp.nheaps; i++) {
                json_object *x = nk_json_obj(o, jh, NULL);
                nk_json_u64(o, x, "heap", sp.heaps[i]);
                if (sp.heaps[i]) nk_sb_printf(&hl, " %s", nk_fmt_hex(b2, sp.heaps[i], is64));
            }
            nk_printf(o, "(%s)\n", sp.how);
            nk_printf(o, "This build (%u) allocates special pool from segment heaps (nt!ExPoolState.SpecialHeaps:%s)\n",
                      t->d.minor, hl.len ? hl.s : " none set");
            nk_sb_free(&hl);
            seg_extra x = {.special = true, .region_said = true};
            *rc = seg_pool(e, addr, flags, why, mods, nmods, &x);
            return true;
        }
        if (!sp.present) {
            nk_cmd_error(o, "!pool: the special pool page %s is not in the dump (the guard page after an allocation, "
                            "or a freed page made inaccessible)",
                         nk_fmt_hex(b1, sp.page, is64));
            *rc = NTKD_E_NOTPRESENT;
            return true;
        }
        if (sp.bad) {
            nk_json_bool(o, js, "bad_header", true);
            nk_json_int(o, js, "size", sp.size);
            nk_cmd_error(o, "!pool: %s", sp.why);
            *rc = NTKD_E_FORMAT;
            return true;
        }
        const char *state = sp.freed ? (sp.paged ? "Free, Paged" : "Free, NonPaged") : sp.paged ? "Paged" : "NonPaged";
        tagtxt(sp.key, tg);
        nk_json_u64(o, js, "header", sp.header);
        nk_json_u64(o, js, "data", sp.data);
        nk_json_int(o, js, "size", sp.size);
        nk_json_bool(o, js, "paged", sp.paged);
        nk_json_str(o, js, "tag", tg);
        nk_json_bool(o, js, "protected", sp.protected_);
        nk_json_bool(o, js, "free", sp.freed);
        nk_json_bool(o, js, "underrun_mode", sp.underrun);
        nk_json_int(o, js, "pattern", sp.pattern);
        nk_printf(o, "*%s size: %4x data: %s (%s) *%s%s\n", nk_fmt_hex(b1, sp.header, is64), sp.size,
                  nk_fmt_hex(b2, sp.data, is64), state, tg, sp.protected_ ? " (Protected)" : "");
        if (flags & 1) special_contents(o, t, sp.data, sp.size);
        if (sp.freed) {
            nk_json_u64(o, js, "freed_data", sp.freed_data);
            nk_json_int(o, js, "freed_size", sp.freed_size);
            nk_printf(o, "The allocation was freed: signature 0x%08x after the header, %u bytes requested, data was at %s\n",
                      NK_SPECIAL_FREED_SIG, sp.freed_size, nk_fmt_hex(b1, sp.freed_data, is64));
        } else {
            nk_json_int(o, js, "pattern_bad_bytes", sp.pattern_bad);
            if (sp.pattern_bad) {
                nk_json_u64(o, js, "first_bad_byte", sp.first_bad);
                nk_printf(o, "Special pool fill pattern 0x%02x is broken: %u bytes differ, the first at %s (%s the data: %s)\n",
                          sp.pattern, sp.pattern_bad, nk_fmt_hex(b1, sp.first_bad, is64),
                          sp.first_bad < sp.data ? "before" : "after", sp.first_bad < sp.data ? "an underrun" : "an overrun");
            }
            if (addr >= sp.data + sp.size || (addr < sp.data && addr >= sp.header + 16))
                nk_printf(o, "%s is outside the allocation's data [%s, +0x%x)\n", nk_fmt_hex(b1, addr, is64),
                          nk_fmt_hex(b2, sp.data, is64), sp.size);
        }
        if (!(flags & 0x80000000ull)) {
            nk_pool_tag one;
            owners_of_key(t, sp.key, &one, mods, nmods, why);
            nk_printf(o, "\t\tPooltag %s : ", tg);
            print_owner_text(o, t, &one, *mods);
            nk_printf(o, "\n");
            json_owners(o, js, &one, *mods);
        }
        *rc = NTKD_OK;
        return true;
    }
    nk_session_hit sh;
    if (nk_pool_session_of(t, addr, &sh, why) != NTKD_OK || !sh.in_session) return false;
    uint8_t probe[0x1000];
    size_t got = 0;
    nk_read_virt(t, addr & ~0xfffull, probe, sizeof probe, &got);
    bool seg = nk_pool_segment_heap(t);
    if (got == sizeof probe && !seg) return false; /* the classic walk shows it (session_region) */
    nk_json_str(o, NULL, "region", "Paged session pool");
    json_object *jss = nk_json_obj(o, NULL, "session");
    nk_json_u64(o, jss, "session_space", sh.session);
    nk_json_int(o, jss, "session_id", (int64_t)sh.session_id);
    nk_json_u64(o, jss, "paged_pool_start", sh.start);
    nk_json_u64(o, jss, "paged_pool_end", sh.end);
    nk_printf(o, "Pool page %s region is Paged session pool\n", nk_fmt_hex(b1, addr, is64));
    if (got != sizeof probe) {
        nk_cmd_error(o, "!pool: the session pool page %s (session %llu, _MM_SESSION_SPACE %s) is not in the dump",
                     nk_fmt_hex(b1, addr & ~0xfffull, is64), (unsigned long long)sh.session_id, nk_fmt_hex(b2, sh.session, is64));
        *rc = NTKD_E_NOTPRESENT;
        return true;
    }
    nk_json_u64(o, jss, "heap_state", sh.heap_state);
    nk_json_u64(o, jss, "paged_heap", sh.paged_heap);
    nk_json_bool(o, NULL, "segment_heap", true);
    nk_printf(o, "Session %llu (_MM_SESSION_SPACE %s, paged pool %s..%s): HeapState %s -> _EX_HEAP_SESSION_STATE.PagedHeap %s\n",
              (unsigned long long)sh.session_id, nk_fmt_hex(b1, sh.session, is64), nk_fmt_hex(b2, sh.start, is64),
              nk_fmt_hex((char[24]){0}, sh.end, is64), nk_fmt_hex((char[24]){0}, sh.heap_state, is64),
              nk_fmt_hex((char[24]){0}, sh.paged_heap, is64));
    if (!sh.heap_state || !sh.paged_heap) {
        nk_cmd_error(o, "!pool: session %llu (_MM_SESSION_SPACE %s) has no paged heap (%s is NULL): the block is not decoded",
                     (unsigned long long)sh.session_id, nk_fmt_hex(b1, sh.session, is64),
                     !sh.heap_state ? "_MM_SESSION_SPACE.HeapState" : "_EX_HEAP_SESSION_STATE.PagedHeap");
        *rc = NTKD_E_NOTFOUND;
        return true;
    }
    seg_extra x = {.sh = &sh, .region_said = true};
    *rc = seg_pool(e, addr, flags, why, mods, nmods, &x);
    return true;
}

/* The region name of a classic page in session space: "Paged session pool" when a process's
 * session holds addr in [PagedPoolStart, PagedPoolEnd], or when every allocated block's PoolType
 * carries the session bit (POOL_TYPE 0x20 + 1); else `region` unchanged. */
static const char *session_region(nk_cmd_env *e, uint64_t addr, const nk_pool_page *pg, const char *region)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    nk_session_hit sh;
    if (nk_pool_session_of(t, addr, &sh, NULL) == NTKD_OK && sh.in_session) {
        json_object *jss = nk_json_obj(o, NULL, "session");
        nk_json_u64(o, jss, "session_space", sh.session);
        nk_json_int(o, jss, "session_id", (int64_t)sh.session_id);
        nk_json_u64(o, jss, "paged_pool_start", sh.start);
        nk_json_u64(o, jss, "paged_pool_end", sh.end);
        return "Paged session pool";
    }
    size_t alloc = 0, sess = 0;
    for (size_t i = 0; i < pg->n; i++)
        if (!pg->b[i].free_ && pg->b[i].pool_type) {
            alloc++;
            if ((pg->b[i].pool_type - 1) & 0x20) sess++;
        }
    if (!alloc || sess != alloc) return region;
    json_object *jss = nk_json_obj(o, NULL, "session");
    nk_json_bool(o, jss, "by_pool_type", true);
    return pg->region == 1 ? "Nonpaged session pool" : "Paged session pool";
}

nk_status cmd_pool(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const bool is64 = t->d.is64;
    a = nk_skip_ws(a);
    if (!*a) {
        nk_cmd_error(o, "usage: !pool addr [flags]");
        return NTKD_E_ARG;
    }
    uint64_t addr = 0;
    const char *end = NULL;
    char err[200];
    if (nk_eval(t, a, &end, &addr, err, sizeof err) != NTKD_OK) {
        nk_cmd_error(o, "!pool: %s", err);
        return NTKD_E_ARG;
    }
    if (!is64) addr &= 0xffffffffull;
    uint64_t flags = 0;
    end = nk_skip_ws(end);
    if (*end && (nk_eval(t, end, &end, &flags, err, sizeof err) != NTKD_OK)) {
        nk_cmd_error(o, "!pool: flags: %s", err);
        return NTKD_E_ARG;
    }
    const bool only_hit = flags & 2, no_tagline = flags & 0x80000000ull, contents = flags & 1;
    nk_json_u64(o, NULL, "address", addr);
    nk_json_u64(o, NULL, "flags", flags);
    nk_strbuf why = {0};
    nk_pool_mod *mods = NULL;
    size_t nmods = 0;
    char b1[24], b2[24], tg[5];
    nk_status rc = NTKD_OK;

    /* 1. the big-pool table */
    nk_pool_bigtab big;
    nk_status bst = nk_pool_big_table(t, &big, &why);
    const nk_pool_big *hit = NULL;
    if (bst == NTKD_OK) {
        for (size_t i = 0; i < big.n; i++) {
            const nk_pool_big *b = &big.v[i];
            uint64_t len = b->bytes ? b->bytes : 1;
            if (addr >= b->va && addr - b->va < len && (!hit || (hit->free_ && !b->free_))) hit = b;
        }
    }
    if (hit) {
        json_object *jb = nk_json_obj(o, NULL, "large_allocation");
        nk_json_u64(o, jb, "va", hit->va);
        nk_json_u64(o, jb, "bytes", hit->bytes);
        nk_json_str(o, jb, "tag", tagtxt(hit->key, tg));
        nk_json_bool(o, jb, "free", hit->free_);
        nk_json_bool(o, jb, "protected", hit->protected_);
        nk_json_u64(o, jb, "table_entry", hit->entry);
        if (hit->has_type) nk_json_int(o, jb, "pool_type", hit->pool_type);
        nk_printf(o, "%c%s : large page allocation, tag %s%s, size 0x%llx bytes%s\n", hit->free_ ? ' ' : '*',
                  nk_fmt_hex(b1, hit->va, is64), tg, hit->protected_ ? " (Protected)" : "", (unsigned long long)hit->bytes,
                  hit->free_ ? " (Free: the big-pool table entry is marked free)" : "");
        if (!no_tagline) {
            nk_pool_tag one;
            owners_of_key(t, hit->key, &one, &mods, &nmods, &why);
            nk_printf(o, "\t\tPooltag %s : ", tg);
            print_owner_text(o, t, &one, mods);
            nk_printf(o, "\n");
            json_owners(o, jb, &one, mods);
        }
        nk_pool_bigtab_free(&big);
        free(mods);
        nk_cmd_warnings(o, &why, 40);
        nk_sb_free(&why);
        return NTKD_OK;
    }
    nk_pool_bigtab_free(&big);

    /* 1b. special pool; session pool the classic walk cannot show */
    {
        nk_status sr = NTKD_OK;
        if (special_pool_cmd(e, addr, flags, &why, &mods, &nmods, &sr)) {
            free(mods);
            nk_cmd_warnings(o, &why, 40);
            nk_sb_free(&why);
            return sr;
        }
    }

    /* 2. segment-heap builds: the VS / LFH subsegment holding addr */
    if (nk_pool_segment_heap(t)) {
        nk_status sst = seg_pool(e, addr, flags, &why, &mods, &nmods, NULL);
        free(mods);
        nk_cmd_warnings(o, &why, 40);
        nk_sb_free(&why);
        return sst;
    }

    /* 3. the classic pool page */
    nk_pool_page *pg = malloc(sizeof *pg);
    if (!pg) {
        nk_sb_free(&why);
        return NTKD_E_NOMEM;
    }
    nk_status st = nk_pool_walk_page(t, addr, pg);
    if (st != NTKD_OK) {
        nk_cmd_error(o, "!pool: %s", nk_cmd_errmsg(t));
        free(pg);
        nk_cmd_warnings(o, &why, 40);
        nk_sb_free(&why);
        return st;
    }
    const char *region = pg->region == 1 ? "Nonpaged pool" : pg->region == 2 ? "Paged pool" : "Unknown";
    region = session_region(e, addr, pg, region);
    nk_json_u64(o, NULL, "page", pg->page);
    nk_json_str(o, NULL, "region", region);
    nk_printf(o, "Pool page %s region is %s\n", nk_fmt_hex(b1, addr, is64), region);
    json_object *arr = nk_json_arr(o, NULL, "blocks");
    const nk_pool_block *target = NULL;
    size_t i = 0;
    for (; i < pg->n && !pg->b[i].after_resync; i++) {
        const nk_pool_block *b = &pg->b[i];
        bool star = addr >= b->addr && addr - b->addr < b->size;
        if (star) target = b;
        if (only_hit && !star) continue;
        block_line(o, t, b, star, arr);
        if (contents) block_contents(o, t, b, pg->unit);
    }
    if (pg->corrupt) {
        nk_json_bool(o, NULL, "corrupt", true);
        nk_json_u64(o, NULL, "bad_header", pg->bad_hdr);
        nk_json_str(o, NULL, "corruption", pg->why);
        uint64_t reg_end = pg->resync_at ? pg->resync_at : pg->page + 0x1000;
        nk_printf(o, "%s\n", pg->why);
        nk_printf(o, "\n***\n*** An error (or corruption) in the pool was detected;\n");
        nk_printf(o, "*** the header at %s breaks the header chain.\n***\n", nk_fmt_hex(b1, pg->bad_hdr, is64));
        nk_printf(o, "Pool page [ %s ] is __inVALID.\n\n", nk_fmt_hex(b1, pg->page, is64));
        nk_printf(o, "[ %s --> %s (size = 0x%llx bytes)]: Corrupt region\n", nk_fmt_hex(b1, pg->bad_hdr, is64),
                  nk_fmt_hex(b2, reg_end, is64), (unsigned long long)(reg_end - pg->bad_hdr));
        if (addr >= pg->bad_hdr && addr < reg_end) {
            nk_printf(o, "%s lies in the corrupt region: its block cannot be told\n", nk_fmt_hex(b1, addr, is64));
            nk_json_bool(o, NULL, "address_in_corrupt_region", true);
        }
        if (pg->resync_at) {
            nk_json_u64(o, NULL, "resync_at", pg->resync_at);
            nk_printf(o, "Walk resumed at %s (the first later header whose chain reaches the page end):\n",
                      nk_fmt_hex(b1, pg->resync_at, is64));
            for (; i < pg->n; i++) {
                const nk_pool_block *b = &pg->b[i];
                bool star = addr >= b->addr && addr - b->addr < b->size;
                if (star) target = b;
                if (only_hit && !star) continue;
                block_line(o, t, b, star, arr);
                if (contents) block_contents(o, t, b, pg->unit);
            }
        } else {
            nk_printf(o, "No later header starts a chain that reaches the page end: the rest of the page is not walked.\n");
        }
        rc = NTKD_OK;
    }
    if (target && no_tagline) {
        /* flag 0x80000000: no tag description */
    } else if (target) {
        nk_pool_tag one;
        owners_of_key(t, target->key, &one, &mods, &nmods, &why);
        nk_printf(o, "\t\tPooltag %s : ", tagtxt(target->key, tg));
        print_owner_text(o, t, &one, mods);
        nk_printf(o, "\n");
        json_object *jt = nk_json_obj(o, NULL, "target");
        nk_json_u64(o, jt, "block", target->addr);
        nk_json_str(o, jt, "tag", tg);
        json_owners(o, jt, &one, mods);
    } else if (!pg->corrupt) {
        nk_printf(o, "%s is not inside any block of the page\n", nk_fmt_hex(b1, addr, is64));
    }
    free(pg);
    free(mods);
    nk_cmd_warnings(o, &why, 40);
    nk_sb_free(&why);
    return rc;
}

/* ---- !poolused ---------------------------------------------------------------------------- */

static int cmp_tag(const void *x, const void *y)
{
    const nk_pool_tag *a = x, *b = y;
    return strcmp(a->tag, b->tag);
}
static int cmp_np(const void *x, const void *y)
{
    const nk_pool_tag *a = x, *b = y;
    if (a->np_bytes != b->np_bytes) return a->np_bytes < b->np_bytes ? 1 : -1;
    return strcmp(a->tag, b->tag);
}
static int cmp_p(const void *x, const void *y)
{
    const nk_pool_tag *a = x, *b = y;
    if (a->p_bytes != b->p_bytes) return a->p_bytes < b->p_bytes ? 1 : -1;
    return strcmp(a->tag, b->tag);
}

static uint64_t outstanding(uint64_t allocs, uint64_t frees) { return allocs >= frees ? allocs - frees : 0; }

/* ---- !poolused: the tables summed, and the session pool (flag 8) -------------------------- */

/* A flag word after the first: digits only (hex, as WinDbg reads flags) or 0x..; at most 0xff. */
static bool poolused_flag_word(const char *w, unsigned *flags)
{
    const char *d = w;
    if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) d += 2;
    else if (strspn(w, "0123456789") != strlen(w)) return false;
    if (!*d || strlen(d) > 2 || strspn(d, "0123456789abcdefABCDEF") != strlen(d)) return false;
    *flags |= (unsigned)strtoul(d, NULL, 16);
    return true;
}

/* The note naming the tracker tables summed (text and JSON). */
static void poolused_tables_note(nk_out *o, const nk_pool_track_info *ti)
{
    nk_json_int(o, NULL, "tracker_tables", ti->tables);
    nk_json_int(o, NULL, "processor_tables", ti->cpu_tables);
    nk_json_bool(o, NULL, "expansion_table", ti->expansion);
    if (!ti->has_cpu_tables)
        nk_printf(o, "\nntkd: 1 tracker table summed (nt!PoolTrackTable; this build keeps no per-processor tables)%s\n",
                  ti->expansion ? ", and the expansion table" : "");
    else
        nk_printf(o, "\nntkd: %u tracker table%s summed (nt!ExPoolTagTables: the tables of %u processor%s, "
                     "PoolTrackTable being processor 0's)%s%s\n",
                  ti->tables, ti->tables == 1 ? "" : "s", ti->cpu_tables, ti->cpu_tables == 1 ? "" : "s",
                  ti->expansion ? ", and the expansion table" : "",
                  ti->cpu_unreadable ? "; some processor tables are not in the dump" : "");
}

/* The tag table of !poolused, standard and session pool alike: the owners of the tags (the
 * loaded modules into *mods, the caller frees them), the totals over every tag (tot: nonpaged
 * outstanding, nonpaged bytes, paged outstanding, paged bytes), the tags sorted (flags 2: by
 * nonpaged bytes, 4: by paged bytes, else by tag), the "Sorting by" line and the column heads, a
 * row per tag matching pattern (at most top rows when top) with its owners, the TOTAL line;
 * JSON sort, flags, top, pattern, tags and total. */
static void poolused_table(nk_out *o, ntkd_target *t, nk_pool_tag *tags, size_t n, nk_pool_mod **mods,
                           unsigned flags, uint64_t top, const char *pattern, uint64_t tot[4], nk_strbuf *why)
{
    bool by_np = flags & 2, by_p = !by_np && (flags & 4);
    size_t nmods = 0;
    *mods = NULL;
    if (nk_pool_modules(t, mods, &nmods, why) == NTKD_OK) nk_pool_find_owners(t, tags, n, *mods, nmods, why);
    tot[0] = tot[1] = tot[2] = tot[3] = 0;
    for (size_t i = 0; i < n; i++) {
        tot[0] += outstanding(tags[i].np_allocs, tags[i].np_frees);
        tot[1] += tags[i].np_bytes;
        tot[2] += outstanding(tags[i].p_allocs, tags[i].p_frees);
        tot[3] += tags[i].p_bytes;
    }
    nk_sort(tags, n, sizeof *tags, by_np ? cmp_np : by_p ? cmp_p : cmp_tag);
    nk_json_str(o, NULL, "sort", by_np ? "nonpaged" : by_p ? "paged" : "tag");
    nk_json_int(o, NULL, "flags", flags);
    if (top) nk_json_int(o, NULL, "top", (int64_t)top);
    if (pattern[0]) nk_json_str(o, NULL, "pattern", pattern);
    nk_printf(o, " Sorting by %s\n\n", by_np ? "NonPaged Pool Consumed" : by_p ? "Paged Pool Consumed" : "Tag");
    nk_printf(o, "               NonPaged                  Paged\n");
    nk_printf(o, " Tag     Allocs         Used     Allocs         Used\n\n");
    json_object *arr = nk_json_arr(o, NULL, "tags");
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        nk_pool_tag *g = &tags[i];
        if (pattern[0] && fnmatch(pattern, g->tag, FNM_CASEFOLD) != 0) continue;
        if (top && shown >= top) break;
        shown++;
        uint64_t npo = outstanding(g->np_allocs, g->np_frees), po = outstanding(g->p_allocs, g->p_frees);
        nk_printf(o, " %-4s %9llu %12llu %10llu %12llu\t", g->tag, (unsigned long long)npo,
                  (unsigned long long)g->np_bytes, (unsigned long long)po, (unsigned long long)g->p_bytes);
        if (g->nowners) print_owner_text(o, t, g, *mods);
        else nk_printf(o, "UNKNOWN pooltag '%s': the tag is in no loaded image", g->tag);
        nk_printf(o, "\n");
        json_object *x = nk_json_obj(o, arr, NULL);
        nk_json_str(o, x, "tag", g->tag);
        nk_json_bool(o, x, "protected", g->protected_);
        nk_json_int(o, x, "nonpaged_allocs", (int64_t)g->np_allocs);
        nk_json_int(o, x, "nonpaged_frees", (int64_t)g->np_frees);
        nk_json_int(o, x, "nonpaged_outstanding", (int64_t)npo);
        nk_json_int(o, x, "nonpaged_bytes", (int64_t)g->np_bytes);
        nk_json_int(o, x, "paged_allocs", (int64_t)g->p_allocs);
        nk_json_int(o, x, "paged_frees", (int64_t)g->p_frees);
        nk_json_int(o, x, "paged_outstanding", (int64_t)po);
        nk_json_int(o, x, "paged_bytes", (int64_t)g->p_bytes);
        json_owners(o, x, g, *mods);
    }
    nk_printf(o, "\n TOTAL %9llu %12llu %10llu %12llu\n", (unsigned long long)tot[0], (unsigned long long)tot[1],
              (unsigned long long)tot[2], (unsigned long long)tot[3]);
    json_object *jt = nk_json_obj(o, NULL, "total");
    nk_json_int(o, jt, "nonpaged_outstanding", (int64_t)tot[0]);
    nk_json_int(o, jt, "nonpaged_bytes", (int64_t)tot[1]);
    nk_json_int(o, jt, "paged_outstanding", (int64_t)tot[2]);
    nk_json_int(o, jt, "paged_bytes", (int64_t)tot[3]);
}

/* !poolused: a tracker table (what) that could not be read: the error, then the readers' notes
 * (why, freed); returns st. */
static nk_status poolused_unreadable(nk_out *o, ntkd_target *t, const char *what, nk_strbuf *why, nk_status st)
{
    nk_cmd_error(o, "%s could not be read: %s", what, nk_cmd_errmsg(t));
    nk_cmd_warnings(o, why, 40);
    nk_sb_free(why);
    return st;
}

/* !poolused 8: the current session's tracker tables, in the standard shape. */
static nk_status poolused_session(nk_cmd_env *e, unsigned flags, uint64_t top, const char *pattern)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    nk_strbuf why = {0};
    nk_pool_tag *tags = NULL;
    size_t n = 0;
    nk_pool_session_info si;
    nk_status st = nk_pool_session_tags(t, &tags, &n, &si, &why);
    if (st != NTKD_OK) return poolused_unreadable(o, t, "!poolused 8: the session pool tracker table", &why, st);
    nk_pool_mod *mods = NULL;
    char a1[40], a2[40];
    nk_json_str(o, NULL, "pool", "session");
    json_object *js = nk_json_obj(o, NULL, "session");
    if (si.session_id != UINT64_MAX) nk_json_int(o, js, "id", (int64_t)si.session_id);
    nk_json_u64(o, js, "session_space", si.session);
    nk_json_u64(o, js, "process", si.process);
    nk_json_u64(o, js, "table", si.table);
    nk_json_int(o, js, "entries", (int64_t)si.count);
    nk_json_int(o, js, "tables", si.tables);
    nk_json_str(o, js, "source", si.source);
    if (si.session_id != UINT64_MAX)
        nk_printf(o, " Session %llu (_MM_SESSION_SPACE %s), session pool tracker table %s: %s, 0x%llx entries\n",
                  (unsigned long long)si.session_id, nk_fmt_addr64(a1, si.session), nk_fmt_addr64(a2, si.table),
                  si.source, (unsigned long long)si.count);
    else
        nk_printf(o, " Session pool tracker table %s: %s, 0x%llx entries\n", nk_fmt_addr64(a2, si.table), si.source,
                  (unsigned long long)si.count);
    uint64_t tot[4];
    poolused_table(o, t, tags, n, &mods, flags, top, pattern, tot, &why);
    nk_printf(o, "\nntkd: %u session tracker table%s summed (the session's table%s)\n", si.tables, si.tables == 1 ? "" : "s",
              si.tables > 1 ? " and its expansion table" : "");
    free(tags);
    free(mods);
    nk_cmd_warnings(o, &why, 40);
    nk_sb_free(&why);
    return NTKD_OK;
}

nk_status cmd_poolused(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    unsigned flags = 0;
    uint64_t top = 0;
    char pattern[64] = "";
    char w[64];
    const char *s = nk_skip_ws(a);
    while (*s) {
        s = nk_next_word(s, w, sizeof w);
        if (!w[0]) break;
        if (!strncasecmp(w, "/t", 2)) {
            const char *n = w + 2;
            if (!*n) {
                s = nk_next_word(s, w, sizeof w);
                n = w;
            }
            char *end = NULL;
            top = strtoull(n, &end, 0);
            if (!end || *end || !*n) {
                nk_cmd_error(o, "!poolused: /t needs a count ('%s')", n);
                return NTKD_E_ARG;
            }
        } else if (!pattern[0] && flags == 0 && isxdigit((unsigned char)w[0]) && strspn(w, "0123456789abcdefABCDEFx") == strlen(w) &&
                   strlen(w) <= 4 && strtoul(w, NULL, 16) <= 0xff && !strchr(w, 'x') && isdigit((unsigned char)w[0])) {
            flags = (unsigned)strtoul(w, NULL, 16);
        } else if (!pattern[0] && poolused_flag_word(w, &flags)) {
            /* a further flag word ("8 2") or 0x.. ("0xa"): OR'ed in */
        } else {
            snprintf(pattern, sizeof pattern, "%s", w);
        }
    }
    bool by_np = flags & 2, by_p = !by_np && (flags & 4);
    nk_strbuf why = {0};
    nk_pool_tag *tags = NULL;
    size_t n = 0;
    if (flags & 8) return poolused_session(e, flags, top, pattern);
    nk_pool_track_info tinfo;
    nk_status st = nk_pool_tags_ex(t, &tags, &n, &tinfo, &why);
    if (st != NTKD_OK) return poolused_unreadable(o, t, "!poolused: the pool tracker table", &why, st);
    nk_pool_mod *mods = NULL;
    uint64_t tot[4]; /* totals over every tag */
    poolused_table(o, t, tags, n, &mods, flags, top, pattern, tot, &why);
    poolused_tables_note(o, &tinfo);

    /* diagnosis: the tags that dominate the pool the sort names (nonpaged by default) */
    bool paged = by_p;
    uint64_t total = paged ? tot[3] : tot[1];
    if (total && n) {
        nk_pool_tag *srt = malloc(n * sizeof *srt);
        if (srt) {
            memcpy(srt, tags, n * sizeof *srt);
            nk_sort(srt, n, sizeof *srt, paged ? cmp_p : cmp_np);
            json_object *jd = nk_json_arr(o, NULL, "dominant");
            nk_printf(o, "\nntkd: %s pool in use: %llu bytes; the tags that dominate it:\n", paged ? "paged" : "nonpaged",
                      (unsigned long long)total);
            for (size_t i = 0; i < n && i < 3; i++) {
                uint64_t bytes = paged ? srt[i].p_bytes : srt[i].np_bytes;
                if (!bytes) break;
                unsigned pct = (unsigned)(bytes * 100 / total);
                if (i > 0 && pct < 10) break;
                nk_printf(o, "  %s  %3u%% (%llu bytes, %llu allocations outstanding)  owner: ", srt[i].tag, pct,
                          (unsigned long long)bytes,
                          (unsigned long long)(paged ? outstanding(srt[i].p_allocs, srt[i].p_frees)
                                                     : outstanding(srt[i].np_allocs, srt[i].np_frees)));
                if (srt[i].nowners) print_owner_text(o, t, &srt[i], mods);
                else nk_printf(o, "unknown (no loaded image holds the tag)");
                nk_printf(o, "\n");
                json_object *x = nk_json_obj(o, jd, NULL);
                nk_json_str(o, x, "tag", srt[i].tag);
                nk_json_int(o, x, "bytes", (int64_t)bytes);
                nk_json_int(o, x, "percent", pct);
                json_owners(o, x, &srt[i], mods);
            }
            if (srt[0].nowners && (paged ? srt[0].p_bytes : srt[0].np_bytes) * 2 > total)
                nk_printf(o, "  Tag %s holds most of the %s pool: %s is the likely leaking driver (its code passes "
                          "the tag to the pool allocator).\n",
                          srt[0].tag, paged ? "paged" : "nonpaged", mods[srt[0].owners[0].mod].name);
            free(srt);
        }
    }
    free(tags);
    free(mods);
    nk_cmd_warnings(o, &why, 40);
    nk_sb_free(&why);
    return NTKD_OK;
}

/* ---- !poolfind ---------------------------------------------------------------------------- */

typedef struct find_ctx {
    ntkd_target *t;
    nk_out *o;
    uint32_t key;
    int want; /* -1 any, 0 nonpaged, 1 paged */
    nk_pool_page *pg;
    nk_pool_walker w;
    json_object *arr;
    uint64_t hits, pool_pages, corrupt_pages;
} find_ctx;

static bool find_page(void *u, uint64_t va, const uint8_t *page)
{
    find_ctx *c = u;
    if (!nk_pool_page_candidate(&c->w, page)) return true;
    nk_pool_walk_with(&c->w, va, page, c->pg);
    if (!nk_pool_page_plausible(c->pg)) return true;
    c->pool_pages++;
    if (c->pg->corrupt) c->corrupt_pages++;
    for (size_t i = 0; i < c->pg->n; i++) {
        const nk_pool_block *b = &c->pg->b[i];
        if (b->key != (c->key & 0x7fffffffu)) continue;
        int paged = b->free_ ? -1 : (b->pool_type & 1) ? 0 : 1;
        if (c->want >= 0 && paged != c->want) continue;
        char a[24], tg[5];
        nk_pool_tag_str(b->key, tg);
        c->hits++;
        nk_printf(c->o, "%s : tag %s, size %#10x, %s%s\n", nk_fmt_hex(a, b->addr, c->t->d.is64), tg, b->size,
                  b->free_ ? "Free" : paged ? "Paged pool" : "Nonpaged pool",
                  b->after_resync ? " (page with a corrupt header; found after it)" : "");
        json_object *x = nk_json_obj(c->o, c->arr, NULL);
        nk_json_u64(c->o, x, "address", b->addr);
        nk_json_int(c->o, x, "size", b->size);
        nk_json_bool(c->o, x, "free", b->free_);
        nk_json_str(c->o, x, "pool", b->free_ ? "free" : paged ? "paged" : "nonpaged");
        nk_json_bool(c->o, x, "page_corrupt", c->pg->corrupt);
    }
    return true;
}

nk_status cmd_poolfind(nk_cmd_env *e, const char *a)
{
    ntkd_target *t = e->t;
    nk_out *o = e->o;
    const bool is64 = t->d.is64;
    char w[64];
    const char *s = nk_next_word(nk_skip_ws(a), w, sizeof w);
    uint32_t key = 0;
    if (!w[0] || !nk_pool_tag_parse(w, &key)) {
        nk_cmd_error(o, "usage: !poolfind tag [pooltype]  (tag: up to 4 characters or 0xHEX; pooltype 0 nonpaged, 1 paged)");
        return NTKD_E_ARG;
    }
    key &= 0x7fffffffu;
    int want = -1;
    s = nk_next_word(s, w, sizeof w);
    if (w[0]) {
        if (!strcmp(w, "0")) want = 0;
        else if (!strcmp(w, "1")) want = 1;
        else {
            nk_cmd_error(o, "!poolfind: pooltype '%s': 0 (nonpaged) or 1 (paged)", w);
            return NTKD_E_ARG;
        }
    }
    char tg[5], b1[24], b2[24];
    nk_pool_tag_str(key, tg);
    nk_json_str(o, NULL, "tag", tg);
    nk_json_u64(o, NULL, "key", key);
    if (want >= 0) nk_json_str(o, NULL, "pool_type", want ? "paged" : "nonpaged");
    nk_strbuf why = {0};
    uint64_t big_hits = 0;

    nk_pool_bigtab big;
    uint64_t esz = 0;
    nk_k_sizeof(t, "_POOL_TRACKER_BIG_PAGES", &esz);
    json_object *jb = nk_json_arr(o, NULL, "large");
    if (nk_pool_big_table(t, &big, &why) == NTKD_OK) {
        nk_printf(o, "Scanning large pool allocation table for tag 0x%08x (%s) (%s : %s)\n\n", key, tg,
                  nk_fmt_hex(b1, big.table, is64), nk_fmt_hex(b2, big.table + big.read * esz, is64));
        for (size_t i = 0; i < big.n; i++) {
            const nk_pool_big *b = &big.v[i];
            if (b->free_ || b->key != key) continue;
            int paged = b->has_type ? (int)(b->pool_type & 1) : -1;
            if (want >= 0 && paged >= 0 && paged != want) continue;
            big_hits++;
            nk_printf(o, "%s : tag %s, size %#10llx, %s\n", nk_fmt_hex(b1, b->va, is64), tg, (unsigned long long)b->bytes,
                      paged < 0 ? "large page allocation" : paged ? "Paged pool" : "Nonpaged pool");
            json_object *x = nk_json_obj(o, jb, NULL);
            nk_json_u64(o, x, "va", b->va);
            nk_json_u64(o, x, "bytes", b->bytes);
            if (paged >= 0) nk_json_str(o, x, "pool", paged ? "paged" : "nonpaged");
        }
        nk_json_u64(o, NULL, "big_table", big.table);
        nk_json_int(o, NULL, "big_entries_read", (int64_t)big.read);
        nk_pool_bigtab_free(&big);
    } else {
        nk_printf(o, "The large pool allocation table could not be read: %s\n", nk_cmd_errmsg(t));
    }

    uint64_t small_hits = 0, npages = 0;
    if (nk_pool_segment_heap(t)) {
        nk_json_bool(o, NULL, "segment_heap", true);
        small_hits = seg_poolfind(e, key, want, &why);
    } else {
        nk_printf(o, "\nSearching kernel pool pages (every present kernel page that starts a pool-header chain) for tag %s\n\n",
                  tg);
        find_ctx c = {.t = t, .o = o, .key = key, .want = want};
        c.pg = malloc(sizeof *c.pg);
        if (!c.pg) {
            nk_sb_free(&why);
            return NTKD_E_NOMEM;
        }
        c.arr = nk_json_arr(o, NULL, "small");
        nk_status st = nk_pool_walker_init(t, &c.w);
        if (st != NTKD_OK) why_add(&why, nk_cmd_errmsg(t));
        else st = nk_pool_scan_kernel_pages(t, find_page, &c, &npages, &why);
        if (st != NTKD_OK) nk_printf(o, "The pool pages could not be scanned: %s\n", nk_cmd_errmsg(t));
        small_hits = c.hits;
        nk_json_int(o, NULL, "pages_scanned", (int64_t)npages);
        nk_json_int(o, NULL, "pool_pages", (int64_t)c.pool_pages);
        nk_json_int(o, NULL, "corrupt_pages", (int64_t)c.corrupt_pages);
        if (c.corrupt_pages)
            nk_printf(o, "(%llu pool pages have a corrupt header chain: run !pool on them)\n",
                      (unsigned long long)c.corrupt_pages);
        nk_printf(o, "%llu kernel pages scanned, %llu look like pool pages\n", (unsigned long long)npages,
                  (unsigned long long)c.pool_pages);
        free(c.pg);
    }
    nk_printf(o, "%llu allocations with tag %s (%llu large, %llu small)\n", (unsigned long long)(big_hits + small_hits),
              tg, (unsigned long long)big_hits, (unsigned long long)small_hits);
    nk_json_int(o, NULL, "hits", (int64_t)(big_hits + small_hits));
    nk_cmd_warnings(o, &why, 40);
    nk_sb_free(&why);
    return NTKD_OK;
}
