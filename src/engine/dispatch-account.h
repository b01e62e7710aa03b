/* dispatch-account.h — where and how to submit: server, port, security, user, trust, timeouts.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  DISPATCH_SMTP_SECURITY_STARTTLS,  /* plain connect, then STARTTLS; refuse if not offered */
  DISPATCH_SMTP_SECURITY_TLS,       /* implicit TLS from the first byte (port 465) */
  DISPATCH_SMTP_SECURITY_NONE,      /* no TLS (port 25, a local test server) */
} DispatchSmtpSecurity;

/* "starttls", "tls", "none" ↔ the enum. */
const char          *dispatch_smtp_security_to_string     (DispatchSmtpSecurity security);
gboolean             dispatch_smtp_security_from_string   (const char          *string,
                                                           DispatchSmtpSecurity *security);
/* 587, 465, 25 */
guint16              dispatch_smtp_security_default_port  (DispatchSmtpSecurity security);

#define DISPATCH_ACCOUNT_DEFAULT_TIMEOUT 60

#define DISPATCH_TYPE_ACCOUNT (dispatch_account_get_type ())

G_DECLARE_FINAL_TYPE (DispatchAccount, dispatch_account, DISPATCH, ACCOUNT, GObject)

/* Every field is also a GObject property of the same name (with '-' for '_'), so the window
 * can bind them to GSettings. The password is deliberately not one of them. */
DispatchAccount     *dispatch_account_new                 (void);
DispatchAccount     *dispatch_account_copy                (DispatchAccount *self);

const char          *dispatch_account_get_host            (DispatchAccount *self);
void                 dispatch_account_set_host            (DispatchAccount *self, const char *host);
/* 0 means "the security mode's default port" */
guint                dispatch_account_get_port            (DispatchAccount *self);
void                 dispatch_account_set_port            (DispatchAccount *self, guint port);
guint16              dispatch_account_get_effective_port  (DispatchAccount *self);
DispatchSmtpSecurity dispatch_account_get_security        (DispatchAccount *self);
void                 dispatch_account_set_security        (DispatchAccount *self, DispatchSmtpSecurity security);
/* Empty or NULL: do not authenticate. */
const char          *dispatch_account_get_user            (DispatchAccount *self);
void                 dispatch_account_set_user            (DispatchAccount *self, const char *user);
/* NULL: choose the best advertised mechanism. */
const char          *dispatch_account_get_auth_mechanism  (DispatchAccount *self);
void                 dispatch_account_set_auth_mechanism  (DispatchAccount *self, const char *mechanism);
gboolean             dispatch_account_get_allow_plaintext_auth (DispatchAccount *self);
void                 dispatch_account_set_allow_plaintext_auth (DispatchAccount *self, gboolean allow);
/* Seconds bounding every wait for the server; default DISPATCH_ACCOUNT_DEFAULT_TIMEOUT. */
guint                dispatch_account_get_timeout         (DispatchAccount *self);
void                 dispatch_account_set_timeout         (DispatchAccount *self, guint seconds);
/* A PEM file of CA certificates used instead of the system trust store; NULL for the system. */
const char          *dispatch_account_get_ca_file         (DispatchAccount *self);
void                 dispatch_account_set_ca_file         (DispatchAccount *self, const char *path);
/* SHA-256 of one certificate the user trusts for this host (hex, any case, ':' allowed);
 * a server presenting exactly that certificate is accepted even when validation fails. */
const char          *dispatch_account_get_pinned_sha256   (DispatchAccount *self);
void                 dispatch_account_set_pinned_sha256   (DispatchAccount *self, const char *hex);
/* NULL: the machine's FQDN, or the address literal of the local end. */
const char          *dispatch_account_get_helo_name       (DispatchAccount *self);
void                 dispatch_account_set_helo_name       (DispatchAccount *self, const char *name);

/* Checks host, port and the pin's syntax; DISPATCH_ERROR_INVALID_INPUT naming the field. */
gboolean             dispatch_account_validate            (DispatchAccount *self, GError **error);

G_END_DECLS
