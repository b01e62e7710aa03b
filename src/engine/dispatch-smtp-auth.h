/* dispatch-smtp-auth.h — SASL client mechanisms for SMTP AUTH (RFC 4954) behind one interface.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _DispatchSmtpAuth DispatchSmtpAuth;

/* Mechanisms we implement, upper-case: "XOAUTH2", "PLAIN", "LOGIN", "CRAM-MD5". */
const char * const *dispatch_smtp_auth_get_supported   (void);
gboolean            dispatch_smtp_auth_is_supported    (const char          *mechanism);

/* Picks the mechanism to use from the server's @advertised list (upper-case, NULL-terminated).
 * @requested (nullable): the user's choice; it must be advertised and supported, else an error
 * naming it. Without one: XOAUTH2 when @have_oauth2_token; otherwise over TLS PLAIN, LOGIN,
 * CRAM-MD5; over a clear connection CRAM-MD5 first (it does not reveal the password), then
 * PLAIN, LOGIN. Never a mechanism the server did not advertise.
 * Errors: DISPATCH_ERROR_AUTH_UNAVAILABLE. */
const char         *dispatch_smtp_auth_choose          (const char * const  *advertised,
                                                        const char          *requested,
                                                        gboolean             have_oauth2_token,
                                                        gboolean             encrypted,
                                                        GError             **error);

/* @secret: the password, or for XOAUTH2 the bearer token. Both are copied and wiped on free. */
DispatchSmtpAuth   *dispatch_smtp_auth_new             (const char          *mechanism,
                                                        const char          *user,
                                                        const char          *secret,
                                                        GError             **error);
void                dispatch_smtp_auth_free            (DispatchSmtpAuth    *auth);

const char         *dispatch_smtp_auth_get_mechanism   (DispatchSmtpAuth    *auth);

/* Whether @mechanism, sent with its initial response, always ends with the server's next reply
 * and negotiates no security layer: then AUTH need not end a pipelined group (RFC 4954 §4). */
gboolean            dispatch_smtp_auth_completes_at_once (const char        *mechanism);

/* The base64 initial response to put on the AUTH line, or NULL when the mechanism starts with
 * an empty challenge (LOGIN, CRAM-MD5). The caller wipes and frees it. */
char               *dispatch_smtp_auth_initial_response (DispatchSmtpAuth   *auth);

/* Answers one 334 challenge. @challenge is the base64 text after "334 " (may be empty).
 * Returns the base64 answer line (without CRLF; "" for an empty answer), or NULL with a
 * DISPATCH_ERROR_PROTOCOL error when the challenge is not valid base64 or not expected at this
 * step. For XOAUTH2 a challenge carries the server's JSON error: the answer is "" (the server
 * then sends its final 535), and the JSON is kept for dispatch_smtp_auth_get_server_error(). */
char               *dispatch_smtp_auth_step            (DispatchSmtpAuth    *auth,
                                                        const char          *challenge,
                                                        GError             **error);

/* XOAUTH2 only: the decoded error JSON the server sent, or NULL. */
const char         *dispatch_smtp_auth_get_server_error (DispatchSmtpAuth   *auth);

/* Overwrites and frees a string that held secret material. */
void                dispatch_smtp_auth_wipe_string     (char                *string);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchSmtpAuth, dispatch_smtp_auth_free)

G_END_DECLS
