/*
 * ipfixkit.h — umbrella header of libipfixkit, the IPFIX library under the
 * `ipfix` command: information model, value codec, templates, message
 * reader/writer, sessions, IPFIX files, rendering and capture extraction.
 */
#ifndef IPFIXKIT_H
#define IPFIXKIT_H

#define IPFIXKIT_VERSION "0.1.0"

#include "error.h"
#include "infomodel.h"
#include "value.h"
#include "template.h"
#include "structured.h"
#include "session.h"
#include "reader.h"
#include "writer.h"
#include "file.h"
#include "render.h"
#include "capture.h"
#include "uri.h"

#endif
