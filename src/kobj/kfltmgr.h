/* kfltmgr.h: the filter manager (fltmgr.sys) as a kernel dump holds it: frames (_FLTP_FRAME on
 * FltGlobals.FrameList), their registered minifilters (_FLT_FILTER), the volumes they are
 * attached to (_FLT_VOLUME) and the instances (_FLT_INSTANCE); and the diagnosis of seed 003:
 * a legacy filter attached above a frame holding a minifilter of higher altitude.
 *
 * Every offset comes from fltmgr's own types (nk_sym_types(t, "fltmgr"): fltmgr.pdb found on
 * the symbol path by the image's CodeView identity); nothing is built in. Without them every
 * call fails with "fltmgr's types are unavailable: !fltkd needs fltmgr.pdb on the symbol path".
 * Device stacks and names come from nt's types (kobj.h). Lists are walked with cycle and
 * length limits; unreadable memory gives a message naming the address. */
#ifndef NTKD_KFLTMGR_H
#define NTKD_KFLTMGR_H

#include "kobj/kobj.h"

#define NK_FLT_MAX 1024u       /* entries of any filter-manager list */
#define NK_FLT_MAX_FRAMES 64u  /* frames (a system has a few) */
#define NK_FLT_MAX_VOLUMES 4096u /* volumes of every frame together (the diagnosis) */

typedef struct nk_flt_frame {
    uint64_t addr;
    uint32_t id;               /* FrameID */
    char lo[48], hi[48];       /* AltitudeIntervalLow / High */
    uint64_t filters_head;     /* address of RegisteredFilters (the resource list head) */
    uint64_t volumes_head;     /* address of AttachedVolumes */
    uint32_t nfilters, nvolumes; /* rCount of each */
} nk_flt_frame;

typedef struct nk_flt_filter {
    uint64_t addr, frame, drvobj;
    char name[96], altitude[48];
    uint32_t flags;
    uint32_t ninstances;       /* InstanceList.rCount */
    uint64_t instances_head;   /* address of InstanceList */
} nk_flt_filter;

typedef struct nk_flt_volume {
    uint64_t addr, frame, devobj, disk, frame_zero, next_frame;
    char name[256], guid[128], cdo_device[96], cdo_driver[96];
    uint32_t flags, fstype, pointer_count;
    uint32_t object_flags;     /* Base.Flags (_FLT_OBJECT_FLAGS) */
    uint64_t rundown;
    uint64_t link_flink, link_blink; /* Base.PrimaryLink */
    uint32_t ninstances;
    uint64_t instances_head;
    bool has_targeted;
    uint32_t targeted_opens;   /* TargetedOpenActiveCount when the build has it */
} nk_flt_volume;

typedef struct nk_flt_instance {
    uint64_t addr, volume, filter;
    char name[128], altitude[48], filter_name[96];
    uint32_t flags, pointer_count;
    uint32_t object_flags;     /* Base.Flags */
} nk_flt_instance;

/* fltmgr's type source, or NULL with the context error set to the message above. */
nk_typesrc *nk_flt_types(ntkd_target *t);
/* Address of FltGlobals.FrameList. */
nk_status nk_flt_frame_list(ntkd_target *t, uint64_t *head);
/* Every frame (array malloc'd, in list order); *why gets a note on a cut walk. */
nk_status nk_flt_frames(ntkd_target *t, nk_flt_frame **out, size_t *n, nk_strbuf *why);
nk_status nk_flt_frame_read(ntkd_target *t, uint64_t addr, nk_flt_frame *out);
nk_status nk_flt_filters(ntkd_target *t, const nk_flt_frame *f, nk_flt_filter **out, size_t *n, nk_strbuf *why);
nk_status nk_flt_volumes(ntkd_target *t, const nk_flt_frame *f, nk_flt_volume **out, size_t *n, nk_strbuf *why);
nk_status nk_flt_volume_read(ntkd_target *t, uint64_t addr, nk_flt_volume *out);
/* Instances on a volume (InstanceList) or of a filter (InstanceList through FilterLink). */
nk_status nk_flt_volume_instances(ntkd_target *t, const nk_flt_volume *v, nk_flt_instance **out, size_t *n,
                                  nk_strbuf *why);
nk_status nk_flt_filter_instances(ntkd_target *t, const nk_flt_filter *f, nk_flt_instance **out, size_t *n,
                                  nk_strbuf *why);
nk_status nk_flt_instance_read(ntkd_target *t, uint64_t addr, nk_flt_instance *out);
/* The FLT_VOLUME for addr: addr itself when it is one of the volumes the frames list, or the
 * volume whose DeviceObject is addr (a filter-manager device object, as !fltkd.volume accepts);
 * NTKD_E_NOTFOUND with a message otherwise. */
nk_status nk_flt_find_volume(ntkd_target *t, uint64_t addr, uint64_t *volume);
/* Names of flag/enum values from fltmgr's types ("FLT_FSTYPE_NTFS"; flags: the enumerators of
 * the flags enum whose bits are set, CamelCased without their prefix as !fltkd prints them:
 * "SetupNotifyCalled EnableNameCaching FilterAttached"); "" when the types lack the enum. */
char *nk_flt_enum_name(ntkd_target *t, const char *enum_type, uint64_t v, char *buf, size_t len);
char *nk_flt_flag_names(ntkd_target *t, const char *enum_type, uint64_t v, char *buf, size_t len);

/* ---- legacy filters and the altitude diagnosis (seed 003) -------------------------------- */
typedef struct nk_flt_legacy {
    uint64_t devobj, drvobj;
    char driver[128];          /* driver object name ("\\Driver\\EncryptionLegacy") */
    char volume[256];          /* the filter-manager volume name of the stack */
    char altitude[48];         /* "" when unknown */
    const char *alt_source;    /* how the altitude was found (a static string) */
    int frame_below;           /* id of the highest frame below it, -1 when none */
    int frame_above;           /* id of the lowest frame above it, -1 when none */
} nk_flt_legacy;

typedef struct nk_flt_problem {
    size_t legacy;             /* index into the legacy array */
    char minifilter[128], mini_altitude[48];
    uint64_t instance;
    int frame;                 /* the frame holding the minifilter's instance */
    char next_altitude[48];    /* altitude of the next legacy filter above (or "") */
} nk_flt_problem;

typedef struct nk_flt_diag {
    nk_flt_legacy *legacy;
    size_t nlegacy;
    nk_flt_problem *problems;
    size_t nproblems;
    nk_strbuf notes;           /* lines: walks cut, altitudes that could not be found */
} nk_flt_diag;

/* Walks every volume's file-system stack (from its frame-0 volume's device object), classifies
 * the devices (filter-manager frames, the file system at the bottom, legacy filters) and finds
 * each legacy filter above a frame holding a minifilter of higher altitude. Legacy altitudes:
 * from the filter manager's legacy-filter records when fltmgr's types have them
 * (_GLOBALS.LegacyFilterList), else from the frame bounds (a legacy filter right below a frame:
 * that frame's low bound; the topmost legacy filter above the top frame: that frame's high
 * bound, which the filter manager stretched to it). */
nk_status nk_flt_diagnose(ntkd_target *t, nk_flt_diag *out);
void nk_flt_diag_free(nk_flt_diag *d);
/* Problem i of a diagnosis in words (both names, the altitudes, the volume), and its remedy
 * (seed 003: a boot-start dummy minifilter loading after the legacy filter, with an altitude
 * between the two, makes the filter manager create a frame above it); "" when i is out of range. */
char *nk_flt_problem_finding(const nk_flt_diag *d, size_t i, char *buf, size_t len);
char *nk_flt_problem_remedy(const nk_flt_diag *d, size_t i, char *buf, size_t len);

#endif
