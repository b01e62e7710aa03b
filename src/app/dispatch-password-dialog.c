/* dispatch-password-dialog.c — asks for the password Send needs when the keyring has none.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "dispatch-password-dialog.h"
#include "dispatch-secret.h"

struct _DispatchPasswordDialog
{
  AdwMessageDialog  parent_instance;

  /* Widgets, owned by the dialog */
  GtkPasswordEntry *entry;
  GtkSwitch        *remember_switch;

  /* Owned */
  DispatchAccount  *account;
  GTask            *task;           /* the ask under way; NULL once answered */
  gulong            cancelled_id;
};

G_DEFINE_FINAL_TYPE (DispatchPasswordDialog, dispatch_password_dialog, ADW_TYPE_MESSAGE_DIALOG)

static void
entry_changed_cb (DispatchPasswordDialog *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->entry));

  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (self), "send", text[0] != '\0');
}

static void
entry_activate_cb (DispatchPasswordDialog *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->entry));

  if (text[0] != '\0')
    adw_message_dialog_response (ADW_MESSAGE_DIALOG (self), "send");
}

static void
remembered_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* The send goes on with the typed password; next time the question simply comes again. */
  if (!dispatch_secret_store_finish (result, &error))
    g_message ("The password could not be saved in the keyring: %s", error->message);
}

static void
finish_task (DispatchPasswordDialog *self,
             char                   *password)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->task);

  if (task == NULL)
    {
      dispatch_secret_free (password);
      return;
    }

  g_cancellable_disconnect (g_task_get_cancellable (task), self->cancelled_id);
  self->cancelled_id = 0;

  if (password != NULL)
    g_task_return_pointer (task, password, (GDestroyNotify) dispatch_secret_free);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s", _("No password was given"));
}

static void
dispatch_password_dialog_response (AdwMessageDialog *dialog,
                                   const char       *response)
{
  DispatchPasswordDialog *self = DISPATCH_PASSWORD_DIALOG (dialog);
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->entry));

  if (g_str_equal (response, "send") && text[0] != '\0')
    {
      if (gtk_switch_get_active (self->remember_switch))
        dispatch_secret_store_async (dispatch_account_get_host (self->account),
                                     dispatch_account_get_effective_port (self->account),
                                     dispatch_account_get_user (self->account),
                                     text, NULL, remembered_cb, NULL);

      /* GTK's own copy sits in non-pageable memory; this one lives only until the send starts. */
      finish_task (self, g_strdup (text));
    }
  else
    finish_task (self, NULL);

  /* Nothing of the password stays in a closed dialog. And no focus in it: GTK 4.8's password
   * entry hears its text lose the focus as the window goes, after the entry itself is gone. */
  gtk_editable_set_text (GTK_EDITABLE (self->entry), "");
  gtk_window_set_focus (GTK_WINDOW (self), NULL);

  if (ADW_MESSAGE_DIALOG_CLASS (dispatch_password_dialog_parent_class)->response != NULL)
    ADW_MESSAGE_DIALOG_CLASS (dispatch_password_dialog_parent_class)->response (dialog, response);
}

static void
dispatch_password_dialog_dispose (GObject *object)
{
  DispatchPasswordDialog *self = (DispatchPasswordDialog *)object;

  finish_task (self, NULL);
  g_clear_object (&self->account);
  gtk_window_set_focus (GTK_WINDOW (self), NULL);

  G_OBJECT_CLASS (dispatch_password_dialog_parent_class)->dispose (object);
}

static void
dispatch_password_dialog_class_init (DispatchPasswordDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  AdwMessageDialogClass *dialog_class = ADW_MESSAGE_DIALOG_CLASS (klass);

  object_class->dispose = dispatch_password_dialog_dispose;
  dialog_class->response = dispatch_password_dialog_response;
}

static void
dispatch_password_dialog_init (DispatchPasswordDialog *self)
{
  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (self);
  GtkWidget *box;
  GtkWidget *row;
  GtkWidget *label;

  box = g_object_new (GTK_TYPE_BOX, "orientation", GTK_ORIENTATION_VERTICAL, "spacing", 12, NULL);

  self->entry = g_object_new (GTK_TYPE_PASSWORD_ENTRY, "show-peek-icon", TRUE, NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->entry),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Password"), -1);
  g_signal_connect_object (self->entry, "changed", G_CALLBACK (entry_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->entry, "activate", G_CALLBACK (entry_activate_cb), self, G_CONNECT_SWAPPED);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->entry));

  row = g_object_new (GTK_TYPE_BOX, "spacing", 12, NULL);
  label = g_object_new (GTK_TYPE_LABEL,
                        "label", _("_Remember in Keyring"),
                        "use-underline", TRUE,
                        "xalign", 0.0f,
                        "hexpand", TRUE,
                        NULL);
  self->remember_switch = g_object_new (GTK_TYPE_SWITCH, "active", TRUE, "valign", GTK_ALIGN_CENTER, NULL);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), GTK_WIDGET (self->remember_switch));
  gtk_accessible_update_relation (GTK_ACCESSIBLE (self->remember_switch),
                                  GTK_ACCESSIBLE_RELATION_LABELLED_BY, label, NULL, -1);
  gtk_box_append (GTK_BOX (row), label);
  gtk_box_append (GTK_BOX (row), GTK_WIDGET (self->remember_switch));
  gtk_box_append (GTK_BOX (box), row);

  adw_message_dialog_set_extra_child (dialog, box);
  adw_message_dialog_set_heading (dialog, _("Password Needed"));
  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "send", _("_Send"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "send", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_response_enabled (dialog, "send", FALSE);
  adw_message_dialog_set_default_response (dialog, "send");
  adw_message_dialog_set_close_response (dialog, "cancel");
}

static void
cancelled_cb (GCancellable           *cancellable,
              DispatchPasswordDialog *self)
{
  /* Runs in the thread that cancelled: the window's Cancel, on the main thread. Disconnecting
   * from inside this handler would wait for itself; it fires only once anyway. */
  self->cancelled_id = 0;
  gtk_window_close (GTK_WINDOW (self));
}

void
dispatch_password_dialog_ask_async (GtkWindow           *parent,
                                    DispatchAccount     *account,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  DispatchPasswordDialog *self;
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (!parent || GTK_IS_WINDOW (parent));
  g_return_if_fail (DISPATCH_IS_ACCOUNT (account));
  g_return_if_fail (dispatch_account_get_user (account) != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, dispatch_password_dialog_ask_async);

  if (g_task_return_error_if_cancelled (task))
    return;

  self = g_object_new (DISPATCH_TYPE_PASSWORD_DIALOG,
                       "transient-for", parent,
                       "modal", TRUE,
                       NULL);
  self->account = g_object_ref (account);
  /* Translators: "ann@example.org", then "smtp.example.org:587" */
  adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (self),
                                  _("No password is stored for %s on %s:%u. Enter it to sign in and send."),
                                  dispatch_account_get_user (account),
                                  dispatch_account_get_host (account),
                                  (guint) dispatch_account_get_effective_port (account));
  self->task = g_steal_pointer (&task);
  if (cancellable != NULL)
    self->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_cb), self, NULL);

  gtk_window_present (GTK_WINDOW (self));
  gtk_widget_grab_focus (GTK_WIDGET (self->entry));
}

char *
dispatch_password_dialog_ask_finish (GAsyncResult  *result,
                                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == dispatch_password_dialog_ask_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
