#ifndef DEMARC_CPROTOBUFC_SHIM_H
#define DEMARC_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
