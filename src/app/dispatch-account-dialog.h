/* dispatch-account-dialog.h — the account: provider presets, server, sign-in, sender, test.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DISPATCH_TYPE_ACCOUNT_DIALOG (dispatch_account_dialog_get_type ())

G_DECLARE_FINAL_TYPE (DispatchAccountDialog, dispatch_account_dialog, DISPATCH, ACCOUNT_DIALOG, AdwPreferencesWindow)

GtkWidget *dispatch_account_dialog_new (GtkWindow *parent);

G_END_DECLS
