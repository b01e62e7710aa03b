/* dispatch-certificate-dialog.h — an untrusted certificate, its fingerprint, and "Trust for This Server".
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DISPATCH_TYPE_CERTIFICATE_DIALOG (dispatch_certificate_dialog_get_type ())

G_DECLARE_FINAL_TYPE (DispatchCertificateDialog, dispatch_certificate_dialog, DISPATCH, CERTIFICATE_DIALOG, AdwMessageDialog)

/* For a DISPATCH_ERROR_CERTIFICATE_UNTRUSTED error met at host:port. Its responses are "cancel"
 * and "trust"; on "trust", pin dispatch_certificate_dialog_get_fingerprint() for host:port. */
GtkWidget  *dispatch_certificate_dialog_new             (GtkWindow                 *parent,
                                                         const GError              *error,
                                                         const char                *host,
                                                         guint                      port);
const char *dispatch_certificate_dialog_get_host        (DispatchCertificateDialog *self);
guint       dispatch_certificate_dialog_get_port        (DispatchCertificateDialog *self);
/* The SHA-256 fingerprint in hex, as the engine pins it; NULL when the error had none. */
const char *dispatch_certificate_dialog_get_fingerprint (DispatchCertificateDialog *self);

/* "ab12…" → "AB:12:…", 16 bytes a line, the way certificate viewers show it. */
char       *dispatch_certificate_format_fingerprint     (const char                *hex);

G_END_DECLS
