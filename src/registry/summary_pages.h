/*
 * summary_pages.h - pages of the `variables` array of a stored model
 * summary without parsing all of it: the stored text (jansson's compact
 * output, written by registry.c) is scanned once to find the array and its
 * elements, and only the elements of the page are parsed. A summary of
 * 100,000 variables is a few tens of MB of JSON; parsing it whole for each
 * GET /fmu/{id} cost most of a second of CPU and a hundred MB.
 */
#ifndef FMUGW_REGISTRY_SUMMARY_PAGES_H
#define FMUGW_REGISTRY_SUMMARY_PAGES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/** The summary object of `text` with only the first `inline_max`
 *  variables and "variables_truncated" set; NULL when the text is not an
 *  object with a variables array (the caller parses it normally then). */
json_t *summary_pages_head(const char *text, size_t len, size_t inline_max);

/** Elements [offset, offset + limit) of the variables array of `text`
 *  (*page, a new array) and the number of elements (*total). Returns 0,
 *  FMUGW_ENOTFOUND when there is no variables array, FMUGW_EINVALID when
 *  the text is malformed, FMUGW_ENOMEM. */
int summary_pages_slice(json_t **page, size_t *total, const char *text, size_t len, uint64_t offset, uint64_t limit);

#endif
