/* gen_kernel.c: kernel dumps that carry physical memory: full (DumpType 1, run list), kernel
 * summary (DumpType 2) and bitmap (5, 6, 8, 9, 0xA) dumps in the 64-bit (PAGEDU64, 0x2000-byte
 * header) and 32-bit (PAGEDUMP, 0x1000-byte header) forms, raw physical images, and the demo. */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

static bool kind_is64(gen_kind k)
{
    return k == GK_FULL64 || k == GK_SUMMARY64 || k == GK_BITMAP64 || k == GK_TRIAGE64 ||
           k == GK_DEMO;
}

/* ---------------------------------------------------------------- shared header facts */
void kfacts_default(gen_kfacts *k, const gen_opts *o, uint64_t kbase)
{
    memset(k, 0, sizeof *k);
    bool is64 = kind_is64(o->kind);
    switch (o->arch) {
    case GA_X64: k->machine = 0x8664; break;
    case GA_ARM64: k->machine = 0xaa64; break;
    default: k->machine = 0x14c; break;
    }
    k->kernbase = kbase;
    k->ps_loaded_module_list = kbase + 0x1d0a0;
    k->ps_active_process_head = kbase + 0x1c4e0;
    k->kdbg = kbase + 0x1b820;
    k->pfn_database = !is64 ? 0x84000000ULL
                      : o->arch == GA_ARM64 ? 0xffffe28000000000ULL
                                            : 0xfffffa8000000000ULL;
    k->system_time = 0x01d9c6e5a0b1c200ULL;   /* a FILETIME in 2023 */
    k->system_uptime = 0x0000000b2d05e000ULL; /* 4800 s in 100 ns units */
    k->product_type = 1;
    k->suite_mask = 0x110;
    k->comment = "ntkd-gendump test dump";
}

void manifest_preamble(const gen_opts *o, gen_mf *m, uint32_t dump_type, uint32_t machine,
                       const char *paging, uint64_t dtb)
{
    mf_line(m, "# ntkd-gendump manifest: facts about %s", o->out);
    mf_line(m, "kind %s", o->kind_name);
    mf_line(m, "arch %s", gen_arch_name(o->arch));
    mf_line(m, "seed 0x%llx", (unsigned long long)o->seed);
    mf_line(m, "dump_type 0x%x", dump_type);
    mf_line(m, "build 0x%x", o->build);
    mf_line(m, "nprocs 0x%x", o->nprocs);
    mf_line(m, "machine 0x%x", machine);
    mf_line(m, "dtb 0x%llx", (unsigned long long)dtb);
    mf_line(m, "paging %s", paging);
    if (o->corrupt != GC_NONE)
        mf_line(m, "corrupt %s", o->corrupt_name);
}

void kfacts_manifest(const gen_kfacts *k, const gen_opts *o, gen_mf *m)
{
    mf_line(m, "bugcheck 0x%x 0x%llx 0x%llx 0x%llx 0x%llx", k->bugcheck,
            (unsigned long long)k->params[0], (unsigned long long)k->params[1],
            (unsigned long long)k->params[2], (unsigned long long)k->params[3]);
    mf_line(m, "header MajorVersion 0xf");
    mf_line(m, "header MinorVersion 0x%x", o->build);
    mf_line(m, "header DirectoryTableBase 0x%llx", (unsigned long long)k->dtb);
    mf_line(m, "header PfnDataBase 0x%llx", (unsigned long long)k->pfn_database);
    mf_line(m, "header PsLoadedModuleList 0x%llx", (unsigned long long)k->ps_loaded_module_list);
    mf_line(m, "header PsActiveProcessHead 0x%llx", (unsigned long long)k->ps_active_process_head);
    mf_line(m, "header KdDebuggerDataBlock 0x%llx", (unsigned long long)k->kdbg);
    mf_line(m, "header MachineImageType 0x%x", k->machine);
    mf_line(m, "header NumberProcessors 0x%x", o->nprocs);
    mf_line(m, "header BugCheckCode 0x%x", k->bugcheck);
    mf_line(m, "header SystemTime 0x%llx", (unsigned long long)k->system_time);
    mf_line(m, "header SystemUpTime 0x%llx", (unsigned long long)k->system_uptime);
    mf_line(m, "header ProductType 0x%x", k->product_type);
    mf_line(m, "header SuiteMask 0x%x", k->suite_mask);
    mf_line(m, "header Comment %s", k->comment);
    mf_line(m, "header KernBase 0x%llx", (unsigned long long)k->kernbase);
}

void fill_header64(gd_header64 *h, const gen_kfacts *k, const gen_opts *o, uint32_t dump_type)
{
    fill_page_marker(h, sizeof *h);
    memcpy(h->signature, "PAGE", 4);
    memcpy(h->valid_dump, "DU64", 4);
    h->major_version = 0xf;
    h->minor_version = o->build;
    h->directory_table_base = k->dtb;
    h->pfn_database = k->pfn_database;
    h->ps_loaded_module_list = k->ps_loaded_module_list;
    h->ps_active_process_head = k->ps_active_process_head;
    h->machine_image_type = k->machine;
    h->number_processors = o->nprocs;
    h->bugcheck_code = k->bugcheck;
    for (int i = 0; i < 4; i++)
        h->bugcheck_params[i] = k->params[i];
    h->kd_debugger_data_block = k->kdbg;
    h->dump_type = dump_type;
    h->system_time = k->system_time;
    memset(h->comment, 0, sizeof h->comment);
    strncpy(h->comment, k->comment, sizeof h->comment - 1);
    h->system_uptime = k->system_uptime;
    h->minidump_fields = 0;
    h->secondary_data_state = 0;
    h->product_type = k->product_type;
    h->suite_mask = k->suite_mask;
    h->writer_status = 0;
    h->unused1 = 0;
    h->kd_secondary_version = 0;
    memset(h->reserved0, 0, sizeof h->reserved0);
}

void fill_header32(gd_header32 *h, const gen_kfacts *k, const gen_opts *o, uint32_t dump_type)
{
    fill_page_marker(h, sizeof *h);
    memcpy(h->signature, "PAGE", 4);
    memcpy(h->valid_dump, "DUMP", 4);
    h->major_version = 0xf;
    h->minor_version = o->build;
    h->directory_table_base = (uint32_t)k->dtb;
    h->pfn_database = (uint32_t)k->pfn_database;
    h->ps_loaded_module_list = (uint32_t)k->ps_loaded_module_list;
    h->ps_active_process_head = (uint32_t)k->ps_active_process_head;
    h->machine_image_type = k->machine;
    h->number_processors = o->nprocs;
    h->bugcheck_code = k->bugcheck;
    for (int i = 0; i < 4; i++)
        h->bugcheck_params[i] = (uint32_t)k->params[i];
    h->pae_enabled = o->arch == GA_X86PAE ? 1 : 0;
    h->kd_secondary_version = 0;
    h->kd_debugger_data_block = (uint32_t)k->kdbg;
    memset(h->comment, 0, sizeof h->comment);
    strncpy(h->comment, k->comment, sizeof h->comment - 1);
    h->dump_type = dump_type;
    h->minidump_fields = 0;
    h->secondary_data_state = 0;
    h->product_type = k->product_type;
    h->suite_mask = k->suite_mask;
    h->writer_status = 0;
    memset(h->reserved2, 0, sizeof h->reserved2);
    h->system_uptime = k->system_uptime;
    h->system_time = k->system_time;
    memset(h->reserved3, 0, sizeof h->reserved3);
}

/* ---------------------------------------------------------------- page output */
/* Writes the present pages among [first, end) in pfn order (tables verbatim, data = pattern). */
static void write_pages(gen_out *out, const gen_phys *ph, uint64_t seed, uint64_t first,
                        uint64_t end, bool zero_absent)
{
    uint64_t p = first;
    while (p < end) {
        uint8_t st = p < ph->npfn ? ph->state[p] : PH_ABSENT;
        if (st == PH_TABLE) {
            out_write(out, phys_table(ph, p), GEN_PAGE);
            p++;
            continue;
        }
        uint64_t q = p;
        while (q < end && (q < ph->npfn ? ph->state[q] : PH_ABSENT) == st)
            q++;
        if (st == PH_DATA)
            out_pattern(out, seed, p * GEN_PAGE, (q - p) * GEN_PAGE);
        else if (zero_absent)
            out_zero(out, (q - p) * GEN_PAGE);
        p = q;
    }
}

static void manifest_pages(const gen_phys *ph, gen_mf *m, bool list_absent)
{
    for (uint64_t p = 0; p < ph->npfn; p++) {
        if (ph->state[p] == PH_DATA)
            mf_line(m, "phys 0x%llx data", (unsigned long long)p);
        else if (ph->state[p] == PH_TABLE)
            mf_line(m, "phys 0x%llx table", (unsigned long long)p);
    }
    if (!list_absent)
        return;
    for (uint64_t p = 0; p < ph->npfn; p++)
        if (ph->state[p] == PH_ABSENT)
            mf_line(m, "absent 0x%llx", (unsigned long long)p);
}

static void need_corrupt(const gen_opts *o, bool ok)
{
    if (o->corrupt != GC_NONE && !ok)
        gen_die("--corrupt %s does not apply to kind %s", o->corrupt_name, o->kind_name);
}

/* ---------------------------------------------------------------- the generator */
void gen_kernel(const gen_opts *o)
{
    const gen_kind kind = o->kind;
    const bool raw = kind == GK_RAW;
    const bool is64 = kind_is64(kind);
    const bool bitmap = kind == GK_SUMMARY64 || kind == GK_BITMAP64 || kind == GK_SUMMARY32;
    const bool full = kind == GK_FULL64 || kind == GK_FULL32 || kind == GK_DEMO;
    const uint64_t hdr_size = is64 ? 0x2000 : 0x1000;

    need_corrupt(o, !raw);
    need_corrupt(o, o->corrupt != GC_RUNS_PAST_EOF || full);
    need_corrupt(o, o->corrupt != GC_OVERLAPPING_RUNS || full);
    need_corrupt(o, o->corrupt != GC_BITMAP_PAST_EOF || bitmap);
    need_corrupt(o, o->corrupt != GC_BAD_OFFSETS || bitmap);

    uint32_t dump_type = raw ? 0 : full ? 1 : (kind == GK_BITMAP64 ? o->dump_type : 2);
    int excluded = bitmap ? (o->pages < 4096 ? 4 : 12) : 0;
    uint64_t trailing = bitmap ? 0x43 : 0;

    gen_phys ph;
    phys_plan(&ph, o->pages, paging_tables_needed(o->arch), excluded, trailing, raw);
    gen_vm vm;
    paging_build(&vm, &ph, o->arch, o->seed);

    gen_kfacts k;
    kfacts_default(&k, o, vm.kbase);
    k.dtb = vm.dtb;
    const uint64_t pc = vm.code_va + 0x3a0;
    const uint64_t sp = vm.stack_va + (o->arch == GA_ARM64 ? 0xf30 : 0xf38);
    if (kind == GK_DEMO) {
        k.bugcheck = 0x1e; /* KMODE_EXCEPTION_NOT_HANDLED */
        k.params[0] = 0xffffffffc0000005ULL;
        k.params[1] = pc;
        k.params[2] = 0;
        k.params[3] = vm.fault_va;
        k.comment = "ntkd demo: KMODE_EXCEPTION_NOT_HANDLED";
    } else {
        k.bugcheck = 0xa; /* IRQL_NOT_LESS_OR_EQUAL: address, IRQL, access, ip */
        k.params[0] = vm.fault_va;
        k.params[1] = 2;
        k.params[2] = 0;
        k.params[3] = pc;
    }

    gen_mf m;
    mf_open(&m, o->out);
    manifest_preamble(o, &m, dump_type, k.machine, vm.paging, vm.dtb);
    if (!raw)
        kfacts_manifest(&k, o, &m);
    if (vm.selfmap_index != UINT64_MAX)
        mf_line(&m, "header SelfMapIndex 0x%llx", (unsigned long long)vm.selfmap_index);
    mf_line(&m, "header PteBase 0x%llx", (unsigned long long)vm.pte_base);
    mf_line(&m, "header PdeBase 0x%llx", (unsigned long long)vm.pde_base);
    if (kind == GK_DEMO)
        mf_line(&m, "header DemoVa 0x%llx", (unsigned long long)(vm.kbase + 0x5000));
    mf_line(&m, "header CodeVa 0x%llx", (unsigned long long)vm.code_va);

    gen_out out;
    out_open(&out, o->out);
    uint64_t file_size = 0;

    if (raw) {
        write_pages(&out, &ph, o->seed, 0, ph.npfn, true);
        file_size = ph.npfn * GEN_PAGE;
    } else {
        /* sizes first: RequiredDumpSpace is the file size */
        uint64_t nbits = ph.npfn, bmp_bytes = ((nbits + 63) / 64) * 8;
        uint64_t first_page = 0;
        uint64_t run_pages = 0;
        for (int r = 0; r < ph.nruns; r++)
            run_pages += ph.runs[r].count;
        if (bitmap) {
            first_page = (hdr_size + sizeof(gd_bmp_header) + bmp_bytes + GEN_PAGE - 1) &
                         ~(uint64_t)(GEN_PAGE - 1);
            file_size = first_page + ph.npresent * GEN_PAGE;
        } else {
            file_size = hdr_size + run_pages * GEN_PAGE;
        }

        /* the dump header */
        uint8_t *hdr = gen_alloc(hdr_size);
        uint8_t *physbuf;
        if (is64) {
            gd_header64 *h = (gd_header64 *)hdr;
            fill_header64(h, &k, o, dump_type);
            h->required_dump_space = file_size;
            ctx_kernel(o->arch, h->context_record, pc, sp, 0, &m);
            memset(&h->exception, 0, sizeof h->exception);
            h->exception.code = 0x80000003; /* the breakpoint KeBugCheckEx raises */
            h->exception.flags = 1;
            h->exception.address = pc;
            physbuf = h->physical_memory_block;
        } else {
            gd_header32 *h = (gd_header32 *)hdr;
            fill_header32(h, &k, o, dump_type);
            h->required_dump_space = file_size;
            ctx_kernel(o->arch, h->context_record, pc, sp, 0, &m);
            memset(&h->exception, 0, sizeof h->exception);
            h->exception.code = 0x80000003;
            h->exception.flags = 1;
            h->exception.address = (uint32_t)pc;
            physbuf = h->physical_memory_block;
        }
        mf_line(&m, "header ExceptionCode 0x80000003");
        mf_line(&m, "header RequiredDumpSpace 0x%llx", (unsigned long long)file_size);

        /* the physical memory descriptor (machine memory; for bitmap kinds the bitmap says
         * which pages the file holds) */
        uint64_t runs_base[GEN_MAX_RUNS] = {0}, runs_count[GEN_MAX_RUNS] = {0};
        uint64_t total_pages = 0;
        for (int r = 0; r < ph.nruns; r++) {
            runs_base[r] = ph.runs[r].base;
            runs_count[r] = ph.runs[r].count;
        }
        if (o->corrupt == GC_RUNS_PAST_EOF)
            runs_count[ph.nruns - 1] += 0x1000;
        if (o->corrupt == GC_OVERLAPPING_RUNS)
            runs_base[2] = runs_base[1] + runs_count[1] - 4;
        for (int r = 0; r < ph.nruns; r++)
            total_pages += runs_count[r];
        uint32_t nruns_field = o->corrupt == GC_HUGE_COUNTS && full ? 0xffffffffu
                                                                    : (uint32_t)ph.nruns;
        if (is64) {
            /* the padding after NumberOfRuns keeps the "PAGE" fill, as in real dumps */
            gd_physdesc64 d = {nruns_field, 0x45474150u, total_pages};
            memcpy(physbuf, &d, sizeof d);
            for (int r = 0; r < ph.nruns; r++) {
                gd_run64 run = {runs_base[r], runs_count[r]};
                memcpy(physbuf + sizeof d + r * sizeof run, &run, sizeof run);
            }
        } else {
            gd_physdesc32 d = {nruns_field, (uint32_t)total_pages};
            memcpy(physbuf, &d, sizeof d);
            for (int r = 0; r < ph.nruns; r++) {
                gd_run32 run = {(uint32_t)runs_base[r], (uint32_t)runs_count[r]};
                memcpy(physbuf + sizeof d + r * sizeof run, &run, sizeof run);
            }
        }
        out_write(&out, hdr, hdr_size);
        free(hdr);

        if (full) {
            mf_line(&m, "header NumberOfRuns 0x%x", ph.nruns);
            mf_line(&m, "header NumberOfPages 0x%llx", (unsigned long long)run_pages);
            for (int r = 0; r < ph.nruns; r++)
                write_pages(&out, &ph, o->seed, ph.runs[r].base,
                            ph.runs[r].base + ph.runs[r].count, false);
            if (o->corrupt == GC_RUNS_PAST_EOF) {
                gen_run *last = &ph.runs[ph.nruns - 1];
                for (uint64_t p = 0; p < 0x1000; p++)
                    mf_line(&m, "absent 0x%llx", (unsigned long long)(last->base + last->count + p));
            }
        } else {
            gd_bmp_header b;
            memset(&b, 0, sizeof b);
            bool fdmp = kind == GK_BITMAP64 && (dump_type == 5 || dump_type == 0xa);
            memcpy(b.signature, fdmp ? "FDMP" : "SDMP", 4);
            memcpy(b.valid_dump, "DUMP", 4);
            b.first_page = first_page;
            b.total_present_pages = ph.npresent;
            b.pages = nbits;
            if (o->corrupt == GC_HUGE_COUNTS) {
                b.pages = 0x0fffffffffffffffULL;
                b.total_present_pages = 0x0ffffffffffff000ULL;
            }
            if (o->corrupt == GC_BAD_OFFSETS)
                b.first_page = file_size + 0x100000;
            mf_line(&m, "header FirstPage 0x%llx", (unsigned long long)first_page);
            mf_line(&m, "header TotalPresentPages 0x%llx", (unsigned long long)ph.npresent);
            mf_line(&m, "header Pages 0x%llx", (unsigned long long)nbits);
            out_write(&out, &b, sizeof b);
            uint8_t *bits = gen_alloc(bmp_bytes);
            for (uint64_t p = 0; p < ph.npfn; p++)
                if (ph.state[p] != PH_ABSENT)
                    bits[p / 8] |= (uint8_t)(1u << (p % 8));
            out_write(&out, bits, bmp_bytes);
            free(bits);
            out_zero(&out, first_page - out.pos);
            write_pages(&out, &ph, o->seed, 0, ph.npfn, false);
            if (o->corrupt == GC_BITMAP_PAST_EOF) {
                /* the file loses its last 8 pages: the bitmap claims pages past EOF */
                int dropped = 0;
                for (uint64_t p = ph.npfn; p-- > 0 && dropped < 8;)
                    if (ph.state[p] == PH_DATA) {
                        ph.state[p] = PH_ABSENT;
                        dropped++;
                    }
                file_size -= (uint64_t)dropped * GEN_PAGE;
                out_truncate(&out, file_size);
            }
        }
    }
    if (out.pos != file_size)
        gen_die("internal: wrote 0x%llx bytes, planned 0x%llx", (unsigned long long)out.pos,
                (unsigned long long)file_size);
    out_close(&out);

    manifest_pages(&ph, &m, !raw);
    paging_manifest(&vm, &m);
    mf_close(&m);
    vm_free(&vm);
    phys_free(&ph);
}
