/*
 * Stub FrontPanel library for VASSA's CI (see okFrontPanel.h): every function fails as if no
 * device were attached. Construct returns NULL; every call on a handle reports
 * ok_DeviceNotOpen (pipes: that code as their byte count). Built with -Wno-unused-parameter.
 */
#include "okFrontPanel.h"

#define FAIL return ok_DeviceNotOpen;

int okFrontPanel_GetAPIVersionMajor(void) { return 0; }
int okFrontPanel_GetAPIVersionMinor(void) { return 0; }
int okFrontPanel_GetAPIVersionMicro(void) { return 0; }

okFrontPanel_HANDLE okFrontPanel_Construct(void) { return 0; }
void okFrontPanel_Destruct(okFrontPanel_HANDLE hnd) {}
ok_ErrorCode okFrontPanel_OpenBySerial(okFrontPanel_HANDLE hnd, const char *serial) { FAIL }
void okFrontPanel_Close(okFrontPanel_HANDLE hnd) {}
ok_BoardModel okFrontPanel_GetBoardModel(okFrontPanel_HANDLE hnd) { return ok_brdUnknown; }
void okFrontPanel_GetBoardModelString(okFrontPanel_HANDLE hnd, ok_BoardModel m, char *buf)
{
    buf[0] = 0;
}
void okFrontPanel_GetSerialNumber(okFrontPanel_HANDLE hnd, char *buf) { buf[0] = 0; }
void okFrontPanel_GetDeviceID(okFrontPanel_HANDLE hnd, char *buf) { buf[0] = 0; }
int okFrontPanel_GetDeviceMajorVersion(okFrontPanel_HANDLE hnd) { return 0; }
int okFrontPanel_GetDeviceMinorVersion(okFrontPanel_HANDLE hnd) { return 0; }
ok_ErrorCode okFrontPanel_LoadDefaultPLLConfiguration(okFrontPanel_HANDLE hnd) { FAIL }

ok_ErrorCode okFrontPanel_ConfigureFPGA(okFrontPanel_HANDLE hnd, const char *strFilename) { FAIL }
ok_ErrorCode okFrontPanel_ResetFPGA(okFrontPanel_HANDLE hnd) { FAIL }

ok_ErrorCode okFrontPanel_SetWireInValue(okFrontPanel_HANDLE hnd, int ep, unsigned long val,
                                         unsigned long mask) { FAIL }
ok_ErrorCode okFrontPanel_UpdateWireIns(okFrontPanel_HANDLE hnd) { FAIL }
ok_ErrorCode okFrontPanel_GetWireInValue(okFrontPanel_HANDLE hnd, int epAddr, UINT32 *val)
{
    *val = 0;
    FAIL
}
ok_ErrorCode okFrontPanel_UpdateWireOuts(okFrontPanel_HANDLE hnd) { FAIL }
unsigned long okFrontPanel_GetWireOutValue(okFrontPanel_HANDLE hnd, int epAddr) { return 0; }

ok_ErrorCode okFrontPanel_ActivateTriggerIn(okFrontPanel_HANDLE hnd, int epAddr, int bit) { FAIL }
ok_ErrorCode okFrontPanel_UpdateTriggerOuts(okFrontPanel_HANDLE hnd) { FAIL }
Bool okFrontPanel_IsTriggered(okFrontPanel_HANDLE hnd, int epAddr, UINT32 mask) { return 0; }

long okFrontPanel_WriteToPipeIn(okFrontPanel_HANDLE hnd, int epAddr, long length,
                                unsigned char *data) { FAIL }
long okFrontPanel_ReadFromPipeOut(okFrontPanel_HANDLE hnd, int epAddr, long length,
                                  unsigned char *data) { FAIL }
long okFrontPanel_WriteToBlockPipeIn(okFrontPanel_HANDLE hnd, int epAddr, int blockSize,
                                     long length, unsigned char *data) { FAIL }
long okFrontPanel_ReadFromBlockPipeOut(okFrontPanel_HANDLE hnd, int epAddr, int blockSize,
                                       long length, unsigned char *data) { FAIL }
