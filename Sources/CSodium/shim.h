#ifndef DEMARC_CSODIUM_SHIM_H
#define DEMARC_CSODIUM_SHIM_H
// libsodium, imported whole. Every sodium function Demarc uses is a plain C
// function, so no static inline wrappers are needed here (contrast COpenSSL).
#include <sodium.h>
#endif
