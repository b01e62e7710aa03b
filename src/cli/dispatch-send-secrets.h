/* dispatch-send-secrets.h — the password and the OAuth2 token: from a file, a variable or the terminal.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dispatch-engine.h"
#include "dispatch-smtp-auth.h"
#include "dispatch-send-options.h"

G_BEGIN_DECLS

/* A heap string holding a password or a token: overwritten before it is freed. */
typedef char DispatchSendSecret;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchSendSecret, dispatch_smtp_auth_wipe_string)

/* Gathers the password and the OAuth2 token the options call for. Neither is ever put in an
 * error message: only file names and variable names are. */
gboolean dispatch_send_read_secrets (const DispatchSendOptions  *options,
                                     DispatchAccount            *account,
                                     char                      **out_password,
                                     char                      **out_token,
                                     GError                    **error);

G_END_DECLS
