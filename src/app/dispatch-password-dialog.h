/* dispatch-password-dialog.h — asks for the password Send needs when the keyring has none.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "dispatch-engine.h"

G_BEGIN_DECLS

#define DISPATCH_TYPE_PASSWORD_DIALOG (dispatch_password_dialog_get_type ())

G_DECLARE_FINAL_TYPE (DispatchPasswordDialog, dispatch_password_dialog, DISPATCH, PASSWORD_DIALOG, AdwMessageDialog)

/* Shows the question over @parent. With "Remember in keyring" on, the password is stored for
 * the account's host, port and user before it is handed back. Cancelling @cancellable closes
 * the dialog. */
void  dispatch_password_dialog_ask_async  (GtkWindow            *parent,
                                           DispatchAccount      *account,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
/* The password (free it with dispatch_secret_free()), or NULL with G_IO_ERROR_CANCELLED when
 * the person chose Cancel. */
char *dispatch_password_dialog_ask_finish (GAsyncResult         *result,
                                           GError              **error);

G_END_DECLS
