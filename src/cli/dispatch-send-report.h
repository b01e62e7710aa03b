/* dispatch-send-report.h — what dispatch-send prints, and the exit status it ends with.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dispatch-engine.h"

G_BEGIN_DECLS

/* The sysexits.h status for a failure. */
int   dispatch_send_exit_status   (const GError *error);
/* Server text made safe for a terminal. */
char *dispatch_send_printable     (const char *text);
/* Prints @error on standard error and returns the exit status for it. */
int   dispatch_send_report_error  (const GError *error);
/* Prints the server's final reply (unless @quiet) and any refused recipients; returns the
 * exit status. */
int   dispatch_send_report_result (const DispatchSmtpResult *result,
                                   gboolean                  quiet);

G_END_DECLS
