/* dispatch-smtp-certificate.h — pure helpers about TLS: fingerprints, reasons, version names.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Hex SHA-256 of a certificate's DER bytes (lower case, no separators). */
char       *dispatch_smtp_certificate_sha256         (GTlsCertificate      *certificate);
/* Normalises a user-given fingerprint ("AB:CD …") to lower-case hex; NULL if not 64 hex digits. */
char       *dispatch_smtp_normalize_sha256           (const char           *text);
/* Why validation failed, in the user's language: one sentence per flag set in @flags. */
char       *dispatch_smtp_certificate_describe_flags (GTlsCertificateFlags  flags,
                                                      const char           *host);
/* "TLS 1.3", or NULL for a version GIO does not name. */
const char *dispatch_smtp_tls_version_name           (GTlsProtocolVersion   version);

G_END_DECLS
