/* analyze.h: the analysis engine behind `!analyze -v` and batch triage. nk_analyze fills one
 * nk_analysis from a target (bugcheck knowledge, the faulting context, the stack, the blamed
 * frame and the failure bucket); printing is separate (text in WinDbg's layout, or JSON with
 * stable field names), so `!analyze -v`, `ntkd analyze --json` and the batch summary all share
 * the same facts. */
#ifndef NTKD_ANALYZE_H
#define NTKD_ANALYZE_H

#include <json-c/json.h>

#include "dump/dump.h"

/* A kernel-diagnosis fact (analysis/kdiag.c): "IRP_ADDRESS", "DPC_RUNNING", "DEADLOCK"...;
 * a value may hold several lines. */
#define NK_AN_MAX_KFACTS 40
typedef struct nk_afact {
    char key[48];
    char value[1536];
} nk_afact;

typedef struct nk_analysis {
    uint32_t code;
    char name[96];                 /* "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M" */
    uint64_t params[4];
    char process_name[64];         /* "System" when known, else "" */
    bool has_exception;
    uint32_t exception_code;       /* e.g. 0xc0000005 */
    uint64_t exception_address;
    uint64_t faulting_ip;          /* FAULTING_IP */
    char faulting_ip_sym[160];     /* "amdppm!WriteIoMemRawEx+0x70" */
    char faulting_insn[160];       /* the disassembled instruction line */
    char stack_text[8192];         /* STACK_TEXT lines, WinDbg's shape */
    char symbol_name[160];         /* SYMBOL_NAME: "amdppm!WriteIoMemRawEx+70" as WinDbg writes it */
    char module_name[64];          /* MODULE_NAME: "amdppm" */
    char image_name[64];           /* IMAGE_NAME: "amdppm.sys" */
    uint32_t image_timestamp;
    char image_version[64];
    char bucket[256];              /* FAILURE_BUCKET_ID: "AV_amdppm!WriteIoMemRawEx" */
    char bucket_hash[48];          /* FAILURE_ID_HASH: "{xxxxxxxx-xxxx-...}" */
    char blame_rule[160];          /* which rule picked the blamed frame */
    /* ntkd additions: where the exception facts came from */
    uint64_t exception_record;     /* EXCEPTION_RECORD address from the parameters, or 0 */
    uint64_t context_record;       /* CONTEXT record address from the parameters, or 0 */
    uint64_t trap_frame;           /* KTRAP_FRAME address from the parameters, or 0 */
    char context_regs[1024];       /* the faulting context's registers, `r` layout */
    char process_source[64];       /* where PROCESS_NAME came from */
    char notes[512];               /* what could not be determined, one per line */
    nk_afact kfacts[NK_AN_MAX_KFACTS]; /* kernel diagnosis (0x9F IRP, 0x133 DPC, deadlocks) */
    size_t nkfacts;
} nk_analysis;

/* Analyses a target. Never fails on a readable dump: missing facts stay empty. */
nk_status nk_analyze(ntkd_target *t, nk_analysis *out);
/* The same facts as a JSON object (caller owns the reference). */
json_object *nk_analysis_json(const nk_analysis *a);

/* Kernel facts and notes that diagnoses add to an analysis (kdiag.c, kdiag_verifier.c):
 * a keyed fact, more text for the last fact's value, a note line. */
void nk_an_fact(nk_analysis *a, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void nk_an_fact_more(nk_analysis *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nk_an_note(nk_analysis *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
