/* dispatch-smtp-trust.h — which server certificates a connection accepts, and why not.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * GIO's full validation against the system store or a CA file, plus the one certificate the
 * user pinned by its SHA-256 fingerprint. Validation is never switched off.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define DISPATCH_TYPE_SMTP_TRUST (dispatch_smtp_trust_get_type ())

G_DECLARE_FINAL_TYPE (DispatchSmtpTrust, dispatch_smtp_trust, DISPATCH, SMTP_TRUST, GObject)

/* @ca_file: PEM anchors used instead of the system store (nullable). @pinned_sha256: hex
 * SHA-256 of a certificate accepted even though validation fails (nullable; any spelling
 * dispatch_smtp_normalize_sha256() takes). */
DispatchSmtpTrust *dispatch_smtp_trust_new          (const char            *ca_file,
                                                     const char            *pinned_sha256);

/* Starts loading the anchors in a thread of their own: reading the system store takes tens of
 * milliseconds that need not sit between two round trips. Idempotent. */
void               dispatch_smtp_trust_prepare      (DispatchSmtpTrust     *self);

/* Waits for the anchors. Errors: DISPATCH_ERROR_FILE when the CA file cannot be read. */
GTlsDatabase      *dispatch_smtp_trust_get_database (DispatchSmtpTrust     *self,
                                                     GError               **error);

/* Decides for @tls's handshake, remembering a certificate it refuses; _unwatch() after. */
void               dispatch_smtp_trust_watch        (DispatchSmtpTrust     *self,
                                                     GTlsConnection        *tls);
void               dispatch_smtp_trust_unwatch      (DispatchSmtpTrust     *self,
                                                     GTlsConnection        *tls);

/* The certificate the last watched handshake refused, and why; NULL if none. */
GTlsCertificate   *dispatch_smtp_trust_get_rejected (DispatchSmtpTrust     *self,
                                                     GTlsCertificateFlags  *flags);

G_END_DECLS
