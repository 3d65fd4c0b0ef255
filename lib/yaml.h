/* SPDX-License-Identifier: Apache-2.0 */
/*
 * YAML to JSON the way kubectl converts manifests (sigs.k8s.io/yaml over go-yaml v2):
 * YAML 1.1 typing of plain scalars (yes/no/on/off are booleans, 0x1F and 0o17 and 017 are
 * integers, 1e3 is a number, ~ and null are null), quoted scalars stay strings, non-string
 * map keys become strings, anchors/aliases and `<<` merge keys are resolved. Errors read
 * "line:column: message" (1-based) with status 400.
 */
#ifndef EK_LIB_YAML_H
#define EK_LIB_YAML_H

#include "lib/error.h"
#include "lib/json.h"

/*
 * Converts a stream of `---`-separated documents into a JSON array with one element per
 * non-empty document (a document that is only comments or empty is skipped, as kubectl
 * does). Caller owns the result.
 */
json_t *ek_yaml_to_json_docs(const char *data, size_t len, ek_error_t **err);
/* Converts a single-document YAML (or JSON) text. An empty document gives JSON null. */
json_t *ek_yaml_to_json(const char *data, size_t len, ek_error_t **err);
/* Serialises JSON as block-style YAML (for CLI output and config files); caller frees. */
char *ek_json_to_yaml(const json_t *v);

#endif
