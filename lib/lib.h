/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/: generic plumbing with no Kubernetes knowledge. This is the part's one public header;
 * other parts include only this. Each module keeps its declarations in its own header below.
 */
#ifndef EK_LIB_LIB_H
#define EK_LIB_LIB_H

#include "lib/common.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/timeutil.h"
#include "lib/json.h"
#include "lib/yaml.h"
#include "lib/flags.h"
#include "lib/map.h"
#include "lib/encoding.h"
#include "lib/tls.h"
#include "lib/http.h"
#include "lib/ws.h"
#include "lib/spdy.h"
#include "lib/pb.h"

#endif
