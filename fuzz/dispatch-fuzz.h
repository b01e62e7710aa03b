/* dispatch-fuzz.h — what every fuzz target sets up first: warnings and criticals are crashes.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stdint.h>
#include <stdlib.h>

#include <glib.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A g_return_if_fail() or g_warning() reached from fuzzed bytes is a bug, and must end the
 * run with abort(): GLib's own fatal path raises SIGTRAP, which libFuzzer does not catch, so
 * no reproducer would be written. */
static GLogWriterOutput
dispatch_fuzz_log_writer (GLogLevelFlags   log_level,
                          const GLogField *fields,
                          gsize            n_fields,
                          gpointer         user_data)
{
  GLogWriterOutput output = g_log_writer_default (log_level, fields, n_fields, user_data);

  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    abort ();
  return output;
}

static inline void
dispatch_fuzz_init (void)
{
  g_log_set_writer_func (dispatch_fuzz_log_writer, NULL, NULL);
}
