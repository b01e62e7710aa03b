/* dispatch-error.h — the engine's one error domain, with the stage, the server's reply and a hint.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define DISPATCH_ERROR (dispatch_error_quark ())

/* One code per failure class; dispatch-send maps each to a sysexits.h status. */
typedef enum
{
  DISPATCH_ERROR_FAILED,               /* anything not covered below */
  DISPATCH_ERROR_INVALID_INPUT,        /* a bad address or header field (names the field) */
  DISPATCH_ERROR_FILE,                 /* an attachment or body file cannot be read */
  DISPATCH_ERROR_HOST_NOT_FOUND,       /* the server name does not resolve */
  DISPATCH_ERROR_UNAVAILABLE,          /* connection refused, 5xx/421 greeting, permanent refusal */
  DISPATCH_ERROR_TEMPORARY,            /* a 4xx reply */
  DISPATCH_ERROR_TIMEOUT,              /* the server did not answer in time */
  DISPATCH_ERROR_CONNECTION_LOST,      /* EOF or reset in the middle of the dialogue */
  DISPATCH_ERROR_PROTOCOL,             /* a malformed or unexpected reply */
  DISPATCH_ERROR_TLS_NOT_OFFERED,      /* security=starttls but no STARTTLS in EHLO */
  DISPATCH_ERROR_TLS_FAILED,           /* the handshake failed for a reason other than trust */
  DISPATCH_ERROR_CERTIFICATE_UNTRUSTED,/* validation failed; carries flags and fingerprint */
  DISPATCH_ERROR_STARTTLS_INJECTION,   /* bytes arrived before the TLS switch */
  DISPATCH_ERROR_AUTH_UNAVAILABLE,     /* no usable mechanism, or AUTH in clear not allowed */
  DISPATCH_ERROR_AUTH_FAILED,          /* 535/534 and friends */
  DISPATCH_ERROR_SENDER_REFUSED,       /* MAIL FROM refused (5xx) */
  DISPATCH_ERROR_RECIPIENTS_REFUSED,   /* every RCPT refused */
  DISPATCH_ERROR_MESSAGE_TOO_LARGE,    /* larger than the server's SIZE, or 552 */
  DISPATCH_ERROR_MESSAGE_REFUSED,      /* 5xx after the data */
} DispatchError;

/* Where in the dialogue a failure happened. */
typedef enum
{
  DISPATCH_SMTP_STAGE_NONE,
  DISPATCH_SMTP_STAGE_CONNECT,
  DISPATCH_SMTP_STAGE_GREETING,
  DISPATCH_SMTP_STAGE_HELLO,
  DISPATCH_SMTP_STAGE_TLS,
  DISPATCH_SMTP_STAGE_AUTH,
  DISPATCH_SMTP_STAGE_SENDER,
  DISPATCH_SMTP_STAGE_RECIPIENT,
  DISPATCH_SMTP_STAGE_DATA,
  DISPATCH_SMTP_STAGE_QUIT,
  DISPATCH_SMTP_STAGE_MESSAGE,         /* building the message, before any I/O */
} DispatchSmtpStage;

GQuark             dispatch_error_quark            (void);

/* Sets @error to a DISPATCH_ERROR with its extended data. @reply is the server's full reply
 * (may be NULL), @hint a translated sentence on what to do (may be NULL). */
void               dispatch_set_error              (GError           **error,
                                                    DispatchError      code,
                                                    DispatchSmtpStage  stage,
                                                    const char        *reply,
                                                    const char        *hint,
                                                    const char        *format,
                                                    ...) G_GNUC_PRINTF (6, 7);

DispatchSmtpStage  dispatch_error_get_stage        (const GError      *error);
const char        *dispatch_error_get_reply        (const GError      *error);
const char        *dispatch_error_get_hint         (const GError      *error);

/* Certificate details, only on DISPATCH_ERROR_CERTIFICATE_UNTRUSTED. */
void               dispatch_error_set_certificate  (GError            *error,
                                                    GTlsCertificate   *certificate,
                                                    GTlsCertificateFlags flags,
                                                    const char        *sha256_hex);
GTlsCertificate   *dispatch_error_get_certificate  (const GError      *error);
GTlsCertificateFlags dispatch_error_get_certificate_flags (const GError *error);
const char        *dispatch_error_get_fingerprint  (const GError      *error);

/* Stage, in a word for people ("authentication"); translated. */
const char        *dispatch_smtp_stage_to_string   (DispatchSmtpStage  stage);

/* What usually fixes a refused sign-in at @hostname (Gmail, Yahoo, iCloud, Microsoft 365 each
 * have their own answer); translated. */
const char        *dispatch_error_auth_hint        (const char        *hostname);

/* The whole story in a few lines: message, "Server reply: …", hint. For the CLI and logs. */
char              *dispatch_error_format           (const GError      *error);

G_END_DECLS
