/* dispatch-account-dialog.c — the account: provider presets, server, sign-in, sender, test.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "dispatch-account-dialog.h"
#include "dispatch-engine.h"
#include "dispatch-secret.h"
#include "dispatch-settings.h"
#include "dispatch-transcript-view.h"

typedef struct
{
  const char           *id;
  const char           *name;
  const char           *host;
  guint                 port;
  DispatchSmtpSecurity  security;
  const char           *help;
} Provider;

/* The submission settings each provider publishes. */
static const Provider providers[] = {
  { "custom", N_("Other"), NULL, 0, DISPATCH_SMTP_SECURITY_STARTTLS,
    N_("Enter the settings your mail provider gives for sending (SMTP) mail.") },
  { "gmail", N_("Gmail"), "smtp.gmail.com", 587, DISPATCH_SMTP_SECURITY_STARTTLS,
    N_("Gmail needs an app password, not your usual one: turn on 2-Step Verification in your Google Account, create an app password there, and sign in with your full address.") },
  { "outlook", N_("Outlook / Microsoft 365"), "smtp.office365.com", 587, DISPATCH_SMTP_SECURITY_STARTTLS,
    N_("Sign in with your full address. Work and school accounts may need their administrator to allow SMTP sign-in for the mailbox.") },
  { "yahoo", N_("Yahoo"), "smtp.mail.yahoo.com", 465, DISPATCH_SMTP_SECURITY_TLS,
    N_("Yahoo needs an app password: create one in your Yahoo account’s security settings and use it here.") },
  { "icloud", N_("iCloud"), "smtp.mail.me.com", 587, DISPATCH_SMTP_SECURITY_STARTTLS,
    N_("iCloud needs an app-specific password, created in your Apple Account settings; sign in with your iCloud address.") },
  { "fastmail", N_("Fastmail"), "smtp.fastmail.com", 465, DISPATCH_SMTP_SECURITY_TLS,
    N_("Fastmail needs an app password, created in Fastmail’s privacy and security settings.") },
  { "local", N_("Local test server"), "127.0.0.1", 8025, DISPATCH_SMTP_SECURITY_NONE,
    N_("A test server on this computer, for example “python3 -m aiosmtpd -n -l 127.0.0.1:8025”. Nothing leaves the computer.") },
};

struct _DispatchAccountDialog
{
  AdwPreferencesWindow    parent_instance;

  /* Template widgets */
  GtkLabel               *provider_help;
  AdwComboRow            *provider_row;
  AdwEntryRow            *host_row;
  GtkSpinButton          *port_spin;
  AdwComboRow            *security_row;
  GtkSpinButton          *timeout_spin;
  AdwEntryRow            *user_row;
  AdwPasswordEntryRow    *password_row;
  GtkSwitch              *plaintext_switch;
  AdwEntryRow            *sender_name_row;
  AdwEntryRow            *sender_address_row;
  AdwActionRow           *test_row;
  GtkStack               *test_icon_stack;
  GtkSpinner             *test_spinner;
  GtkLabel               *test_details;
  GtkFrame               *test_frame;
  DispatchTranscriptView *test_transcript;

  /* Owned references */
  GSettings              *settings;
  GCancellable           *cancellable;
  DispatchSmtpSession    *session;      /* the test under way */

  guint                   disposed : 1;
  guint                   applying_preset : 1;
  guint                   password_dirty : 1;
  guint                   loading_password : 1;
};

G_DEFINE_FINAL_TYPE (DispatchAccountDialog, dispatch_account_dialog, ADW_TYPE_PREFERENCES_WINDOW)

static void
toast (DispatchAccountDialog *self,
       const char            *title)
{
  /* The password is saved as the dialog closes; the answer may come after. */
  if (self->disposed)
    return;

  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (title));
}

static guint
provider_index (const char *id)
{
  for (guint i = 0; i < G_N_ELEMENTS (providers); i++)
    {
      if (g_strcmp0 (providers[i].id, id) == 0)
        return i;
    }

  return 0;
}

static gboolean
provider_get_mapping (GValue   *value,
                      GVariant *variant,
                      gpointer  user_data)
{
  g_value_set_uint (value, provider_index (g_variant_get_string (variant, NULL)));
  return TRUE;
}

static GVariant *
provider_set_mapping (const GValue       *value,
                      const GVariantType *expected_type,
                      gpointer            user_data)
{
  guint index = g_value_get_uint (value);

  if (index >= G_N_ELEMENTS (providers))
    return NULL;

  return g_variant_new_string (providers[index].id);
}

static gboolean
security_get_mapping (GValue   *value,
                      GVariant *variant,
                      gpointer  user_data)
{
  DispatchSmtpSecurity security;

  if (!dispatch_smtp_security_from_string (g_variant_get_string (variant, NULL), &security))
    return FALSE;

  /* The combo lists the modes in the order of the enum. */
  g_value_set_uint (value, security);
  return TRUE;
}

static GVariant *
security_set_mapping (const GValue       *value,
                      const GVariantType *expected_type,
                      gpointer            user_data)
{
  guint index = g_value_get_uint (value);

  if (index > DISPATCH_SMTP_SECURITY_NONE)
    return NULL;

  return g_variant_new_string (dispatch_smtp_security_to_string (index));
}

static void
update_provider_help (DispatchAccountDialog *self)
{
  g_autofree char *id = g_settings_get_string (self->settings, "provider");
  guint index = provider_index (id);

  gtk_label_set_text (self->provider_help, _(providers[index].help));
}

static void
provider_selected_cb (DispatchAccountDialog *self)
{
  guint index = adw_combo_row_get_selected (self->provider_row);
  const Provider *provider;

  if (index >= G_N_ELEMENTS (providers))
    return;

  provider = &providers[index];
  update_provider_help (self);

  if (provider->host == NULL || self->applying_preset)
    return;

  self->applying_preset = TRUE;
  g_settings_set_string (self->settings, "provider", provider->id);
  g_settings_set_string (self->settings, "host", provider->host);
  g_settings_set_uint (self->settings, "port", provider->port);
  g_settings_set_enum (self->settings, "security", provider->security);
  self->applying_preset = FALSE;
}

/* Editing the server by hand makes the account a custom one, so the help stops applying. */
static void
server_changed_cb (DispatchAccountDialog *self,
                   const char            *key,
                   GSettings             *settings)
{
  g_autofree char *id = NULL;
  g_autofree char *host = NULL;
  const Provider *provider;

  if (self->applying_preset ||
      !(g_str_equal (key, "host") || g_str_equal (key, "port") || g_str_equal (key, "security")))
    return;

  id = g_settings_get_string (settings, "provider");
  provider = &providers[provider_index (id)];
  if (provider->host == NULL)
    return;

  host = g_settings_get_string (settings, "host");
  if (g_strcmp0 (host, provider->host) != 0 ||
      g_settings_get_uint (settings, "port") != provider->port ||
      (DispatchSmtpSecurity) g_settings_get_enum (settings, "security") != provider->security)
    {
      self->applying_preset = TRUE;
      g_settings_set_string (settings, "provider", "custom");
      self->applying_preset = FALSE;
      update_provider_help (self);
    }
}

static void
sender_address_changed_cb (DispatchAccountDialog *self)
{
  const char *address = gtk_editable_get_text (GTK_EDITABLE (self->sender_address_row));
  guint n = 0;

  if (address[0] == '\0' || (dispatch_message_check_address_field (DISPATCH_MESSAGE_FIELD_FROM, address, &n, NULL) && n == 1))
    gtk_widget_remove_css_class (GTK_WIDGET (self->sender_address_row), "error");
  else
    gtk_widget_add_css_class (GTK_WIDGET (self->sender_address_row), "error");
}


/* The password */

static void
password_stored_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(DispatchAccountDialog) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!dispatch_secret_store_finish (result, &error))
    {
      g_autofree char *message = NULL;

      /* Translators: %s is the reason */
      message = g_strdup_printf (_("The password could not be saved in the keyring: %s"), error->message);
      toast (self, message);
      return;
    }

  toast (self, _("Password saved in the keyring"));
}

static void
password_cleared_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(DispatchAccountDialog) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!dispatch_secret_clear_finish (result, &error) && error != NULL)
    g_debug ("Could not remove the password: %s", error->message);
}

static void
save_password (DispatchAccountDialog *self)
{
  g_autoptr(DispatchAccount) account = dispatch_settings_create_account (self->settings);
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));
  const char *user = dispatch_account_get_user (account);

  if (!self->password_dirty || user == NULL)
    return;

  self->password_dirty = FALSE;

  if (password[0] == '\0')
    dispatch_secret_clear_async (dispatch_account_get_host (account),
                                 dispatch_account_get_effective_port (account),
                                 user, NULL, password_cleared_cb, g_object_ref (self));
  else
    dispatch_secret_store_async (dispatch_account_get_host (account),
                                 dispatch_account_get_effective_port (account),
                                 user, password, NULL, password_stored_cb, g_object_ref (self));
}

static void
password_changed_cb (DispatchAccountDialog *self)
{
  if (!self->loading_password)
    self->password_dirty = TRUE;
}

static void
password_lookup_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(DispatchAccountDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  char *password;

  password = dispatch_secret_lookup_finish (result, &error);

  if (password != NULL && !self->password_dirty)
    {
      self->loading_password = TRUE;
      gtk_editable_set_text (GTK_EDITABLE (self->password_row), password);
      self->loading_password = FALSE;
    }
  else if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("No password from the keyring: %s", error->message);

  dispatch_secret_free (password);
}

static void
load_password (DispatchAccountDialog *self)
{
  g_autoptr(DispatchAccount) account = dispatch_settings_create_account (self->settings);
  const char *user = dispatch_account_get_user (account);

  if (user == NULL)
    return;

  dispatch_secret_lookup_async (dispatch_account_get_host (account),
                                dispatch_account_get_effective_port (account),
                                user, self->cancellable, password_lookup_cb, g_object_ref (self));
}


/* Test connection */

static void
test_transcript_cb (DispatchSmtpSession    *session,
                    DispatchSmtpDirection   direction,
                    const char             *line,
                    DispatchAccountDialog  *self)
{
  dispatch_transcript_view_append (self->test_transcript, direction, line);
}

static void
show_test_details (DispatchAccountDialog *self,
                   const char            *details)
{
  gtk_label_set_text (self->test_details, details);
  gtk_widget_set_visible (GTK_WIDGET (self->test_details), details != NULL && details[0] != '\0');
}

static void
test_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(DispatchAccountDialog) self = user_data;
  DispatchSmtpSession *session = DISPATCH_SMTP_SESSION (object);
  g_autoptr(DispatchSmtpResult) test_result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) details = g_string_new (NULL);

  test_result = dispatch_smtp_session_test_finish (session, result, &error);

  if (session != self->session)
    return;

  g_signal_handlers_disconnect_by_data (session, self);
  g_clear_object (&self->session);
  gtk_spinner_stop (self->test_spinner);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "account.test", TRUE);

  if (test_result != NULL)
    {
      gtk_stack_set_visible_child_name (self->test_icon_stack, "success");
      adw_action_row_set_subtitle (self->test_row, _("The server accepts this account"));

      if (test_result->server_domain != NULL)
        /* Translators: %s is the name the server gave itself */
        g_string_append_printf (details, _("Server: %s\n"), test_result->server_domain);
      if (test_result->tls_version != NULL)
        /* Translators: TLS version and cipher suite */
        g_string_append_printf (details, _("Encryption: %s %s\n"), test_result->tls_version,
                                test_result->tls_cipher ? test_result->tls_cipher : "");
      else
        g_string_append_printf (details, "%s\n", _("Encryption: none"));
      if (test_result->auth_mechanism != NULL)
        /* Translators: %s is a SASL mechanism such as PLAIN */
        g_string_append_printf (details, _("Signed in with %s\n"), test_result->auth_mechanism);
      else
        g_string_append_printf (details, "%s\n", _("Not signed in"));
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      gtk_stack_set_visible_child_name (self->test_icon_stack, "idle");
      return;
    }
  else
    {
      const char *reply = error->domain == DISPATCH_ERROR ? dispatch_error_get_reply (error) : NULL;
      const char *hint = error->domain == DISPATCH_ERROR ? dispatch_error_get_hint (error) : NULL;

      gtk_stack_set_visible_child_name (self->test_icon_stack, "error");
      adw_action_row_set_subtitle (self->test_row, error->message);

      if (reply != NULL)
        /* Translators: %s is the server's reply, as received */
        g_string_append_printf (details, _("Server reply: %s\n"), reply);
      if (hint != NULL)
        g_string_append_printf (details, "%s\n", hint);
    }

  if (details->len > 0)
    g_string_truncate (details, details->len - 1);

  show_test_details (self, details->str);
}

static void
test_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *param)
{
  DispatchAccountDialog *self = DISPATCH_ACCOUNT_DIALOG (widget);
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(GError) error = NULL;
  const char *password;

  if (self->session != NULL)
    return;

  account = dispatch_settings_create_account (self->settings);
  if (!dispatch_account_validate (account, &error))
    {
      gtk_stack_set_visible_child_name (self->test_icon_stack, "error");
      adw_action_row_set_subtitle (self->test_row, error->message);
      show_test_details (self, NULL);
      return;
    }

  save_password (self);
  password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));

  self->session = dispatch_smtp_session_new ();
  g_signal_connect (self->session, "transcript", G_CALLBACK (test_transcript_cb), self);

  dispatch_transcript_view_clear (self->test_transcript);
  gtk_widget_set_visible (GTK_WIDGET (self->test_frame), TRUE);
  gtk_stack_set_visible_child_name (self->test_icon_stack, "busy");
  gtk_spinner_start (self->test_spinner);
  adw_action_row_set_subtitle (self->test_row, _("Testing…"));
  show_test_details (self, NULL);
  gtk_widget_action_set_enabled (widget, "account.test", FALSE);

  dispatch_smtp_session_test_async (self->session, account,
                                    password[0] != '\0' ? password : NULL,
                                    NULL, self->cancellable, test_cb, g_object_ref (self));
}


/* GObject */

static gboolean
dispatch_account_dialog_close_request (GtkWindow *window)
{
  save_password (DISPATCH_ACCOUNT_DIALOG (window));

  return GTK_WINDOW_CLASS (dispatch_account_dialog_parent_class)->close_request (window);
}

static void
dispatch_account_dialog_dispose (GObject *object)
{
  DispatchAccountDialog *self = (DispatchAccountDialog *)object;

  self->disposed = TRUE;
  g_cancellable_cancel (self->cancellable);
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);

  gtk_widget_dispose_template (GTK_WIDGET (self), DISPATCH_TYPE_ACCOUNT_DIALOG);

  G_OBJECT_CLASS (dispatch_account_dialog_parent_class)->dispose (object);
}

static void
dispatch_account_dialog_finalize (GObject *object)
{
  DispatchAccountDialog *self = (DispatchAccountDialog *)object;

  g_clear_object (&self->settings);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (dispatch_account_dialog_parent_class)->finalize (object);
}

static void
dispatch_account_dialog_class_init (DispatchAccountDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = dispatch_account_dialog_dispose;
  object_class->finalize = dispatch_account_dialog_finalize;
  window_class->close_request = dispatch_account_dialog_close_request;

  g_type_ensure (DISPATCH_TYPE_TRANSCRIPT_VIEW);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/dispatchmail/Dispatch/dispatch-account-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, provider_help);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, provider_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, host_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, port_spin);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, security_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, timeout_spin);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, user_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, password_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, plaintext_switch);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, sender_name_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, sender_address_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, test_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, test_icon_stack);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, test_spinner);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, test_details);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, test_frame);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, test_transcript);

  gtk_widget_class_install_action (widget_class, "account.test", NULL, test_action);
}

/* libadwaita 1.2 names the password row's icon buttons (show the text, apply) by tooltip only,
 * which GTK 4.8 gives screen readers as a description, leaving the button without a name. The
 * tooltip's words become the name too, and follow it from "Show Text" to "Hide Text". */
static void
icon_button_tooltip_cb (GtkWidget  *button,
                        GParamSpec *pspec,
                        gpointer    user_data)
{
  const char *tooltip = gtk_widget_get_tooltip_text (button);

  if (tooltip != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, tooltip, -1);
  else
    gtk_accessible_reset_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL);
}

static void
name_icon_buttons_by_tooltip (GtkWidget *widget)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (GTK_IS_BUTTON (child) && GTK_IS_IMAGE (gtk_button_get_child (GTK_BUTTON (child))))
        {
          icon_button_tooltip_cb (child, NULL, NULL);
          g_signal_connect (child, "notify::tooltip-text", G_CALLBACK (icon_button_tooltip_cb), NULL);
        }
      else
        name_icon_buttons_by_tooltip (child);
    }
}

static void
dispatch_account_dialog_init (DispatchAccountDialog *self)
{
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);

  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = dispatch_settings_new ();
  self->cancellable = g_cancellable_new ();

  for (guint i = 0; i < G_N_ELEMENTS (providers); i++)
    gtk_string_list_append (names, _(providers[i].name));
  adw_combo_row_set_model (self->provider_row, G_LIST_MODEL (names));

  g_settings_bind_with_mapping (self->settings, "provider", self->provider_row, "selected",
                                G_SETTINGS_BIND_DEFAULT,
                                provider_get_mapping, provider_set_mapping, NULL, NULL);
  g_settings_bind_with_mapping (self->settings, "security", self->security_row, "selected",
                                G_SETTINGS_BIND_DEFAULT,
                                security_get_mapping, security_set_mapping, NULL, NULL);
  g_settings_bind (self->settings, "host", self->host_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "port", self->port_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "timeout", self->timeout_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "user", self->user_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "allow-plaintext-auth", self->plaintext_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "sender-name", self->sender_name_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "sender-address", self->sender_address_row, "text", G_SETTINGS_BIND_DEFAULT);

  g_signal_connect_object (self->provider_row, "notify::selected",
                           G_CALLBACK (provider_selected_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed",
                           G_CALLBACK (server_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->sender_address_row, "changed",
                           G_CALLBACK (sender_address_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->password_row, "changed",
                           G_CALLBACK (password_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->password_row, "apply",
                           G_CALLBACK (save_password), self, G_CONNECT_SWAPPED);

  name_icon_buttons_by_tooltip (GTK_WIDGET (self->password_row));

  update_provider_help (self);
  sender_address_changed_cb (self);
  load_password (self);
}

GtkWidget *
dispatch_account_dialog_new (GtkWindow *parent)
{
  return g_object_new (DISPATCH_TYPE_ACCOUNT_DIALOG,
                       "transient-for", parent,
                       NULL);
}
