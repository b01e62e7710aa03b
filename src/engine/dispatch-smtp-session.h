/* dispatch-smtp-session.h — one SMTP submission, run in a worker thread, reported by signals.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "dispatch-account.h"
#include "dispatch-message.h"
#include "dispatch-smtp-result.h"
#include "dispatch-engine-enums.h"

G_BEGIN_DECLS

#define DISPATCH_TYPE_SMTP_SESSION (dispatch_smtp_session_get_type ())

G_DECLARE_FINAL_TYPE (DispatchSmtpSession, dispatch_smtp_session, DISPATCH, SMTP_SESSION, GObject)

/* Signals, all emitted on the thread-default main context of the caller of _send_async() /
 * _test_async(), in the order the events happened, and all before the operation's callback:
 *   state-changed (DispatchSmtpState state)
 *   transcript    (DispatchSmtpDirection direction, const char *line)   AUTH payloads redacted
 *   progress      (guint64 sent, guint64 total)                         message octets
 *   recipient     (const char *address, guint code, const char *reply)
 * A session runs one operation at a time. */
DispatchSmtpSession *dispatch_smtp_session_new          (void);

/* @password: the password, or NULL. @oauth2_token: a bearer token for XOAUTH2, or NULL.
 * Both are copied and wiped when the operation ends. @message must not change until the
 * callback. The result is a DispatchSmtpResult; when some recipients were refused it lists
 * them and the send still succeeded. Errors: DISPATCH_ERROR, G_IO_ERROR_CANCELLED. */
void                 dispatch_smtp_session_send_async   (DispatchSmtpSession  *self,
                                                         DispatchAccount      *account,
                                                         const char           *password,
                                                         const char           *oauth2_token,
                                                         DispatchMessage      *message,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
DispatchSmtpResult  *dispatch_smtp_session_send_finish  (DispatchSmtpSession  *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);

/* Connect, secure, authenticate, QUIT: "Test connection". */
void                 dispatch_smtp_session_test_async   (DispatchSmtpSession  *self,
                                                         DispatchAccount      *account,
                                                         const char           *password,
                                                         const char           *oauth2_token,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
DispatchSmtpResult  *dispatch_smtp_session_test_finish  (DispatchSmtpSession  *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);

DispatchSmtpState    dispatch_smtp_session_get_state    (DispatchSmtpSession  *self);
gboolean             dispatch_smtp_session_is_busy      (DispatchSmtpSession  *self);

G_END_DECLS
