/*
 * A stand-in for Opal Kelly's okFrontPanel.h, written for VASSA's CI: it declares only the C
 * functions and types that rust-hdl-ok-frontpanel-sys 0.46 (its bindgen bindings and safe
 * wrapper) and vassa-driver's `frontpanel` feature call, with the names and shapes of the
 * public FrontPanel C API. It lets `cargo check --features frontpanel` run without the
 * proprietary SDK; the matching stub library (okFrontPanel_stub.c) fails every call.
 * It is not Opal Kelly's header: build against the real SDK to talk to a board.
 */
#ifndef VASSA_OK_FRONTPANEL_STUB_H
#define VASSA_OK_FRONTPANEL_STUB_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void *okFrontPanel_HANDLE;
typedef int Bool;
typedef unsigned int UINT32;

/* Error codes (FrontPanel API reference, ErrorCode). */
typedef enum {
    ok_NoError = 0,
    ok_Failed = -1,
    ok_Timeout = -2,
    ok_DoneNotHigh = -3,
    ok_TransferError = -4,
    ok_CommunicationError = -5,
    ok_InvalidBitstream = -6,
    ok_FileError = -7,
    ok_DeviceNotOpen = -8,
    ok_InvalidEndpoint = -9,
    ok_InvalidBlockSize = -10,
    ok_I2CRestrictedAddress = -11,
    ok_I2CBitError = -12,
    ok_I2CNack = -13,
    ok_I2CUnknownStatus = -14,
    ok_UnsupportedFeature = -15,
    ok_FIFOUnderflow = -16,
    ok_FIFOOverflow = -17,
    ok_DataAlignmentError = -18,
    ok_InvalidResetProfile = -19,
    ok_InvalidParameter = -20
} ok_ErrorCode;

/* Board models: only the ones VASSA names. */
typedef enum {
    ok_brdUnknown = 0,
    ok_brdXEM6010LX45 = 20
} ok_BoardModel;

/* Library version. */
int okFrontPanel_GetAPIVersionMajor(void);
int okFrontPanel_GetAPIVersionMinor(void);
int okFrontPanel_GetAPIVersionMicro(void);

/* Device handle and connection. */
okFrontPanel_HANDLE okFrontPanel_Construct(void);
void okFrontPanel_Destruct(okFrontPanel_HANDLE hnd);
ok_ErrorCode okFrontPanel_OpenBySerial(okFrontPanel_HANDLE hnd, const char *serial);
void okFrontPanel_Close(okFrontPanel_HANDLE hnd);
ok_BoardModel okFrontPanel_GetBoardModel(okFrontPanel_HANDLE hnd);
void okFrontPanel_GetBoardModelString(okFrontPanel_HANDLE hnd, ok_BoardModel m, char *buf);
void okFrontPanel_GetSerialNumber(okFrontPanel_HANDLE hnd, char *buf);
void okFrontPanel_GetDeviceID(okFrontPanel_HANDLE hnd, char *buf);
int okFrontPanel_GetDeviceMajorVersion(okFrontPanel_HANDLE hnd);
int okFrontPanel_GetDeviceMinorVersion(okFrontPanel_HANDLE hnd);
ok_ErrorCode okFrontPanel_LoadDefaultPLLConfiguration(okFrontPanel_HANDLE hnd);

/* FPGA configuration. */
ok_ErrorCode okFrontPanel_ConfigureFPGA(okFrontPanel_HANDLE hnd, const char *strFilename);
ok_ErrorCode okFrontPanel_ResetFPGA(okFrontPanel_HANDLE hnd);

/* Wires. */
ok_ErrorCode okFrontPanel_SetWireInValue(okFrontPanel_HANDLE hnd, int ep, unsigned long val,
                                         unsigned long mask);
ok_ErrorCode okFrontPanel_UpdateWireIns(okFrontPanel_HANDLE hnd);
ok_ErrorCode okFrontPanel_GetWireInValue(okFrontPanel_HANDLE hnd, int epAddr, UINT32 *val);
ok_ErrorCode okFrontPanel_UpdateWireOuts(okFrontPanel_HANDLE hnd);
unsigned long okFrontPanel_GetWireOutValue(okFrontPanel_HANDLE hnd, int epAddr);

/* Triggers. */
ok_ErrorCode okFrontPanel_ActivateTriggerIn(okFrontPanel_HANDLE hnd, int epAddr, int bit);
ok_ErrorCode okFrontPanel_UpdateTriggerOuts(okFrontPanel_HANDLE hnd);
Bool okFrontPanel_IsTriggered(okFrontPanel_HANDLE hnd, int epAddr, UINT32 mask);

/* Pipes: the byte count moved, or a negative ok_ErrorCode. */
long okFrontPanel_WriteToPipeIn(okFrontPanel_HANDLE hnd, int epAddr, long length,
                                unsigned char *data);
long okFrontPanel_ReadFromPipeOut(okFrontPanel_HANDLE hnd, int epAddr, long length,
                                  unsigned char *data);
long okFrontPanel_WriteToBlockPipeIn(okFrontPanel_HANDLE hnd, int epAddr, int blockSize,
                                     long length, unsigned char *data);
long okFrontPanel_ReadFromBlockPipeOut(okFrontPanel_HANDLE hnd, int epAddr, int blockSize,
                                       long length, unsigned char *data);

#ifdef __cplusplus
}
#endif

#endif
