/* fltmgr_standin.h: a STAND-IN for the filter manager's (fltmgr.sys) private structures, used
 * only to build a test fltmgr.pdb (tests/fltmgr/CMakeLists.txt) and the JSON layout the scene
 * generator reads. THIS IS NOT fltmgr's REAL LAYOUT: the real fltmgr.pdb is not in the corpus
 * and cannot be downloaded here.
 *
 * What is taken from public material (facts only, own declarations):
 *  - type and field names as WinDbg's !fltkd output and public `dt fltmgr!...` listings show
 *    them: _FLT_OBJECT (Flags, PointerCount, RundownRef, PrimaryLink), _FLT_VOLUME (Frame,
 *    Flags, FileSystemType, DeviceObject, DiskDeviceObject, FrameZeroVolume, VolumeInNextFrame,
 *    DeviceName, GuidName, CDODeviceName, CDODriverName, InstanceList, Callbacks, ContextLock,
 *    VolumeContexts, StreamListCtrls, FileListCtrls, NameCacheCtrl), _FLT_INSTANCE, _FLT_FILTER,
 *    _FLTP_FRAME (FrameID, AltitudeIntervalLow/High, RegisteredFilters, AttachedVolumes),
 *    _FLT_RESOURCE_LIST_HEAD (rLock, rList, rCount), the global FltGlobals (type _GLOBALS) with
 *    its FrameList;
 *  - the offsets of _FLT_VOLUME's members from InstanceList to NameCacheCtrl follow what the
 *    !fltkd.volume output of seed 004 prints (InstanceList at +0x90, Callbacks +0x110,
 *    ContextLock +0x4f8 ... on Windows 7 x64); every other offset is simply what this
 *    declaration order gives;
 *  - FLT_FILESYSTEM_TYPE's values (fltkernel.h, public WDK).
 * Invented (SYNTHETIC, not known to exist in the real fltmgr): the legacy-filter records
 * (_FLTP_LEGACY_FILTER on FltGlobals.LegacyFilterList): what the filter manager knows of a
 * legacy filter's altitude (it reports one through FilterFindFirst, fltmc shows it); ntkd uses
 * them only when the types have them and otherwise infers legacy altitudes from frame bounds.
 *
 * Compiles two ways: with clang-cl for x86_64-pc-windows-msvc (the PDB) and with the host C
 * compiler on x86_64 Linux (fltlay.c: offsetof). Only fixed-size integers, pointers and no
 * bitfields, so both ABIs lay the structures out the same (checked by _Static_asserts in
 * fltlay.c against the DLL's own numbers is not possible; the CLI test cross-checks instead). */
#ifndef FLTMGR_STANDIN_H
#define FLTMGR_STANDIN_H

#ifdef _MSC_VER
typedef unsigned char UCHAR;
typedef unsigned short USHORT;
typedef unsigned long ULONG;
typedef long LONG;
typedef unsigned __int64 ULONG64;
typedef __wchar_t WCHAR;
#else
#include <stdint.h>
typedef uint8_t UCHAR;
typedef uint16_t USHORT;
typedef uint32_t ULONG;
typedef int32_t LONG;
typedef uint64_t ULONG64;
typedef uint16_t WCHAR;
#endif

typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY;

typedef struct _UNICODE_STRING {
    USHORT Length;
    USHORT MaximumLength;
    WCHAR *Buffer;
} UNICODE_STRING;

typedef struct _EX_RUNDOWN_REF {
    ULONG64 Count;
} EX_RUNDOWN_REF;

/* nt's executive resource, opaque here except its list link (0x68 bytes as on x64). */
typedef struct _ERESOURCE {
    LIST_ENTRY SystemResourcesList;
    void *OwnerTable;
    UCHAR Opaque[0x50];
} ERESOURCE;

struct _DEVICE_OBJECT;
struct _DRIVER_OBJECT;

typedef enum _FLT_OBJECT_FLAGS {
    FLT_OBFL_DRAINING = 0x1,
    FLT_OBFL_ZOMBIED = 0x2,
    FLT_OBFL_TYPE_INSTANCE = 0x1000000,
    FLT_OBFL_TYPE_FILTER = 0x2000000,
    FLT_OBFL_TYPE_VOLUME = 0x4000000,
} FLT_OBJECT_FLAGS;

typedef struct _FLT_OBJECT {
    FLT_OBJECT_FLAGS Flags;
    ULONG PointerCount;
    EX_RUNDOWN_REF RundownRef;
    LIST_ENTRY PrimaryLink;
} FLT_OBJECT;

typedef struct _FLT_RESOURCE_LIST_HEAD {
    ERESOURCE rLock;
    LIST_ENTRY rList;
    ULONG rCount;
} FLT_RESOURCE_LIST_HEAD;

typedef struct _FLT_TYPE {
    USHORT Signature;
    USHORT Size;
} FLT_TYPE;

typedef struct _FLTP_FRAME {
    FLT_TYPE Type;
    LIST_ENTRY Links;
    ULONG FrameID;
    UNICODE_STRING AltitudeIntervalLow;
    UNICODE_STRING AltitudeIntervalHigh;
    UCHAR LargeIrpCtrlStackSize;
    UCHAR SmallIrpCtrlStackSize;
    FLT_RESOURCE_LIST_HEAD RegisteredFilters;
    FLT_RESOURCE_LIST_HEAD AttachedVolumes;
    LIST_ENTRY MountingVolumes;
} FLTP_FRAME;

typedef enum _FLT_FILTER_FLAGS {
    FLTFL_MANDATORY_UNLOAD_IN_PROGRESS = 0x1,
    FLTFL_FILTERING_INITIATED = 0x2,
    FLTFL_NAME_PROVIDER = 0x4,
    FLTFL_SUPPORTS_PIPES_MAILSLOTS = 0x8,
} FLT_FILTER_FLAGS;

typedef struct _FLT_FILTER {
    FLT_OBJECT Base;
    FLTP_FRAME *Frame;
    UNICODE_STRING Name;
    UNICODE_STRING DefaultAltitude;
    FLT_FILTER_FLAGS Flags;
    struct _DRIVER_OBJECT *DriverObject;
    FLT_RESOURCE_LIST_HEAD InstanceList;
    void *VerifierExtension;
    LIST_ENTRY VerifiedFiltersLink;
    void *FilterUnload;
    void *InstanceSetup;
} FLT_FILTER;

typedef enum _FLT_VOLUME_FLAGS {
    VOLFL_NO_MORE_ATTACHMENTS = 0x1,
    VOLFL_SETUP_NOTIFY_CALLED = 0x4,
    VOLFL_MOUNT_SETUP_NOTIFIES_CALLED = 0x8,
    VOLFL_LONG_NAMES_SUPPORTED = 0x10,
    VOLFL_ENABLE_NAME_CACHING = 0x20,
    VOLFL_FILTER_ATTACHED = 0x40,
} FLT_VOLUME_FLAGS;

/* FLT_FILESYSTEM_TYPE (fltkernel.h) */
typedef enum _FLT_FILESYSTEM_TYPE {
    FLT_FSTYPE_UNKNOWN = 0,
    FLT_FSTYPE_RAW = 1,
    FLT_FSTYPE_NTFS = 2,
    FLT_FSTYPE_FAT = 3,
    FLT_FSTYPE_CDFS = 4,
    FLT_FSTYPE_UDFS = 5,
    FLT_FSTYPE_LANMAN = 6,
    FLT_FSTYPE_WEBDAV = 7,
    FLT_FSTYPE_RDPDR = 8,
    FLT_FSTYPE_NFS = 9,
    FLT_FSTYPE_MS_NETWARE = 10,
    FLT_FSTYPE_NETWARE = 11,
    FLT_FSTYPE_BSUDF = 12,
    FLT_FSTYPE_MUP = 13,
} FLT_FILESYSTEM_TYPE;

typedef struct _CALLBACK_CTRL {
    LIST_ENTRY OperationLists[50];
    UCHAR OperationFlags[50];
    UCHAR Reserved[150];
} CALLBACK_CTRL;

typedef struct _FLT_VOLUME {
    FLT_OBJECT Base;
    FLT_VOLUME_FLAGS Flags;
    FLT_FILESYSTEM_TYPE FileSystemType;
    struct _DEVICE_OBJECT *DeviceObject;
    struct _DEVICE_OBJECT *DiskDeviceObject;
    struct _FLT_VOLUME *FrameZeroVolume;
    struct _FLT_VOLUME *VolumeInNextFrame;
    FLTP_FRAME *Frame;
    UNICODE_STRING DeviceName;
    UNICODE_STRING GuidName;
    UNICODE_STRING CDODeviceName;
    UNICODE_STRING CDODriverName;
    FLT_RESOURCE_LIST_HEAD InstanceList;
    CALLBACK_CTRL Callbacks;
    void *ContextLock;
    void *VolumeContexts;
    FLT_RESOURCE_LIST_HEAD StreamListCtrls;
    FLT_RESOURCE_LIST_HEAD FileListCtrls;
    FLT_RESOURCE_LIST_HEAD NameCacheCtrl;
    ULONG TargetedOpenActiveCount;
} FLT_VOLUME;

typedef enum _FLT_INSTANCE_FLAGS {
    INSFL_CAN_BE_DETACHED = 0x1,
    INSFL_DELETING = 0x2,
    INSFL_INITING = 0x4,
} FLT_INSTANCE_FLAGS;

typedef struct _FLT_INSTANCE {
    FLT_OBJECT Base;
    EX_RUNDOWN_REF *OperationRundownRef;
    FLT_VOLUME *Volume;
    FLT_FILTER *Filter;
    FLT_INSTANCE_FLAGS Flags;
    UNICODE_STRING Altitude;
    UNICODE_STRING Name;
    LIST_ENTRY FilterLink;
    void *ContextLock;
    void *Context;
    void *CallbackNodes[50];
} FLT_INSTANCE;

/* SYNTHETIC (see the header comment). Left out when FLT_STANDIN_NO_LEGACY_RECORDS is defined:
 * the variant whose types, like the real fltmgr's as far as public sources show, have no such
 * records (ntkd then infers legacy altitudes from the frame bounds). */
#ifndef FLT_STANDIN_NO_LEGACY_RECORDS
typedef struct _FLTP_LEGACY_FILTER {
    LIST_ENTRY Links;
    struct _DRIVER_OBJECT *DriverObject;
    UNICODE_STRING Name;
    UNICODE_STRING Altitude;
} FLTP_LEGACY_FILTER;
#endif

typedef struct _GLOBALS {
    ULONG DebugFlags;
    ULONG TraceFlags;
    ULONG GFlags;
    ULONG NumProcessors;
    struct _DEVICE_OBJECT *ControlDeviceObject;
    struct _DRIVER_OBJECT *DriverObject;
    FLT_RESOURCE_LIST_HEAD FrameList;
#ifndef FLT_STANDIN_NO_LEGACY_RECORDS
    FLT_RESOURCE_LIST_HEAD LegacyFilterList; /* SYNTHETIC */
#endif
} GLOBALS;

#endif
