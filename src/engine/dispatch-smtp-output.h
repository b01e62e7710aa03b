/* dispatch-smtp-output.h — a buffered output stream that lets writes of its size or more pass by.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Create with g_object_new (DISPATCH_TYPE_SMTP_OUTPUT, "base-stream", …, "buffer-size", …).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define DISPATCH_TYPE_SMTP_OUTPUT (dispatch_smtp_output_get_type ())

G_DECLARE_FINAL_TYPE (DispatchSmtpOutput, dispatch_smtp_output, DISPATCH, SMTP_OUTPUT, GBufferedOutputStream)

G_END_DECLS
