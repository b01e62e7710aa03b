/* dispatch-account-dialog.c — the account: provider presets, server, sign-in, sender, test.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "dispatch-account-dialog.h"
#include "dispatch-certificate-dialog.h"
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
  AdwActionRow           *ca_file_row;
  GtkWidget              *ca_file_clear_button;
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
  GtkWidget              *test_certificate_box;
  GtkFrame               *test_frame;
  DispatchTranscriptView *test_transcript;

  /* Owned references */
  GSettings              *settings;
  GCancellable           *cancellable;
  DispatchSmtpSession    *session;      /* the test under way */
  GError                 *test_error;   /* the last test's failure, for "Trust for This Server" */
  DispatchAccount        *test_account; /* …and the account it went to */
  GtkFileChooserNative   *ca_chooser;

  /* The server and user the keyring's password belongs to: the account as it was when the
   * dialog opened, or as it was when the password was last saved. */
  char                   *stored_host;
  guint                   stored_port;
  char                   *stored_user;

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
  g_autofree char *escaped = NULL;

  /* The password is saved as the dialog closes; the answer may come after. */
  if (self->disposed)
    return;

  /* Toast titles are Pango markup in libadwaita 1.2; the keyring's messages are plain text. */
  escaped = g_markup_escape_text (title, -1);
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (escaped));
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

/* Whether the server settings still are the preset's. */
static gboolean
preset_is_edited (DispatchAccountDialog *self,
                  const Provider        *provider)
{
  g_autofree char *host = NULL;

  if (provider->host == NULL)
    return FALSE;

  host = g_settings_get_string (self->settings, "host");
  return g_strcmp0 (g_strstrip (host), provider->host) != 0 ||
         g_settings_get_uint (self->settings, "port") != provider->port ||
         (DispatchSmtpSecurity) g_settings_get_enum (self->settings, "security") != provider->security;
}

/* An edited preset stays that provider, with its help: a port changed for a firewall is still
 * Gmail. Only the subtitle says so, and keeps its one line, so nothing moves under the pointer. */
static void
update_provider_help (DispatchAccountDialog *self)
{
  g_autofree char *id = g_settings_get_string (self->settings, "provider");
  const Provider *provider = &providers[provider_index (id)];

  gtk_label_set_text (self->provider_help, _(provider->help));

  if (preset_is_edited (self, provider))
    {
      g_autofree char *subtitle = NULL;

      /* Translators: %s is a provider ("Gmail"); the server settings were changed by hand */
      subtitle = g_strdup_printf (_("%s (edited): your changes to the server are kept"), _(provider->name));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (self->provider_row), subtitle);
    }
  else
    adw_action_row_set_subtitle (ADW_ACTION_ROW (self->provider_row), _("Fills in the server settings"));
}

static void
provider_selected_cb (DispatchAccountDialog *self)
{
  guint index = adw_combo_row_get_selected (self->provider_row);
  const Provider *provider;

  if (index >= G_N_ELEMENTS (providers))
    return;

  provider = &providers[index];

  if (provider->host != NULL && !self->applying_preset)
    {
      self->applying_preset = TRUE;
      g_settings_set_string (self->settings, "provider", provider->id);
      g_settings_set_string (self->settings, "host", provider->host);
      g_settings_set_uint (self->settings, "port", provider->port);
      g_settings_set_enum (self->settings, "security", provider->security);
      self->applying_preset = FALSE;
    }

  update_provider_help (self);
}

static void
server_changed_cb (DispatchAccountDialog *self,
                   const char            *key,
                   GSettings             *settings)
{
  if (self->applying_preset ||
      !(g_str_equal (key, "host") || g_str_equal (key, "port") || g_str_equal (key, "security")))
    return;

  update_provider_help (self);
}

/* CA file */

static void
update_ca_file_row (DispatchAccountDialog *self)
{
  g_autofree char *path = g_settings_get_string (self->settings, "ca-file");

  if (path[0] != '\0')
    {
      g_autoptr(GFile) file = g_file_new_for_path (path);
      g_autofree char *display = g_file_get_parse_name (file);

      adw_action_row_set_subtitle (self->ca_file_row, display);
    }
  else
    adw_action_row_set_subtitle (self->ca_file_row, _("The system’s trusted authorities"));

  gtk_widget_set_visible (self->ca_file_clear_button, path[0] != '\0');
}

static void start_test (DispatchAccountDialog *self);

static void
ca_chooser_response_cb (DispatchAccountDialog *self,
                        int                    response,
                        GtkFileChooserNative  *chooser)
{
  g_autoptr(GFile) file = NULL;
  g_autofree char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  g_clear_object (&self->ca_chooser);

  if (file == NULL)
    return;

  path = g_file_get_path (file);
  if (path == NULL)
    {
      toast (self, _("Choose a file on this computer"));
      return;
    }

  g_settings_set_string (self->settings, "ca-file", path);
  start_test (self);
}

static void
choose_ca_file_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *param)
{
  DispatchAccountDialog *self = DISPATCH_ACCOUNT_DIALOG (widget);
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  if (self->ca_chooser != NULL)
    return;

  self->ca_chooser = gtk_file_chooser_native_new (_("Choose CA Certificates"), GTK_WINDOW (self),
                                                  GTK_FILE_CHOOSER_ACTION_OPEN, _("_Choose"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->ca_chooser), TRUE);
  /* Translators: a file filter in the chooser */
  gtk_file_filter_set_name (filter, _("PEM certificates"));
  gtk_file_filter_add_pattern (filter, "*.pem");
  gtk_file_filter_add_pattern (filter, "*.crt");
  gtk_file_filter_add_pattern (filter, "*.cer");
  gtk_file_filter_add_mime_type (filter, "application/x-x509-ca-cert");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->ca_chooser), filter);

  g_signal_connect_object (self->ca_chooser, "response", G_CALLBACK (ca_chooser_response_cb), self, G_CONNECT_SWAPPED);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->ca_chooser));
}

static void
clear_ca_file_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *param)
{
  DispatchAccountDialog *self = DISPATCH_ACCOUNT_DIALOG (widget);

  g_settings_reset (self->settings, "ca-file");
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
password_moved_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(DispatchAccountDialog) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!dispatch_secret_move_finish (result, &error) && error != NULL)
    {
      g_autofree char *message = NULL;

      /* Translators: %s is the reason */
      message = g_strdup_printf (_("The password could not be saved in the keyring: %s"), error->message);
      toast (self, message);
    }
}

/* The server and user the account names now; FALSE when it signs in as nobody. */
static gboolean
current_server (DispatchAccountDialog  *self,
                DispatchAccount       **account_out)
{
  g_autoptr(DispatchAccount) account = dispatch_settings_create_account (self->settings);
  gboolean signs_in = dispatch_account_get_user (account) != NULL;

  *account_out = g_steal_pointer (&account);
  return signs_in;
}

static gboolean
is_stored_server (DispatchAccountDialog *self,
                  DispatchAccount       *account)
{
  return g_strcmp0 (self->stored_host, dispatch_account_get_host (account)) == 0 &&
         self->stored_port == dispatch_account_get_effective_port (account) &&
         g_strcmp0 (self->stored_user, dispatch_account_get_user (account)) == 0;
}

static void
remember_stored_server (DispatchAccountDialog *self,
                        DispatchAccount       *account)
{
  g_free (self->stored_host);
  g_free (self->stored_user);
  self->stored_host = g_strdup (dispatch_account_get_host (account));
  self->stored_port = dispatch_account_get_effective_port (account);
  self->stored_user = g_strdup (dispatch_account_get_user (account));
}

/* A typed password goes to the keyring for the account as it stands. An untouched one follows
 * the account when @follow is TRUE — as the dialog closes, once the person is done editing —
 * so that a port changed from 587 to 465 keeps the password that was there. */
static void
save_password (DispatchAccountDialog *self,
               gboolean               follow)
{
  g_autoptr(DispatchAccount) account = NULL;
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));
  gboolean moved_away;

  if (!current_server (self, &account))
    return;

  moved_away = self->stored_user != NULL && !is_stored_server (self, account);

  if (self->password_dirty)
    {
      self->password_dirty = FALSE;

      if (password[0] == '\0')
        dispatch_secret_clear_async (dispatch_account_get_host (account),
                                     dispatch_account_get_effective_port (account),
                                     dispatch_account_get_user (account),
                                     NULL, password_cleared_cb, g_object_ref (self));
      else
        dispatch_secret_store_async (dispatch_account_get_host (account),
                                     dispatch_account_get_effective_port (account),
                                     dispatch_account_get_user (account),
                                     password, NULL, password_stored_cb, g_object_ref (self));

      /* The old server's password belonged to the account as it was; it has a new one now. */
      if (moved_away)
        dispatch_secret_clear_async (self->stored_host, self->stored_port, self->stored_user,
                                     NULL, password_cleared_cb, g_object_ref (self));
    }
  else if (moved_away && follow)
    dispatch_secret_move_async (self->stored_host, self->stored_port, self->stored_user,
                                dispatch_account_get_host (account),
                                dispatch_account_get_effective_port (account),
                                dispatch_account_get_user (account),
                                NULL, password_moved_cb, g_object_ref (self));
  else
    return;

  remember_stored_server (self, account);
}

static void
apply_password_cb (DispatchAccountDialog *self)
{
  save_password (self, FALSE);
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
  g_autoptr(DispatchAccount) account = NULL;

  if (!current_server (self, &account))
    return;

  remember_stored_server (self, account);
  dispatch_secret_lookup_async (self->stored_host, self->stored_port, self->stored_user,
                                self->cancellable, password_lookup_cb, g_object_ref (self));
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

/* The result is at the bottom of a long page: bring the row and what follows it into view.
 * What just became visible has its place only after a layout, so this looks again a few times
 * over the next frames. */
#define SCROLL_TRIES 6

typedef struct
{
  DispatchAccountDialog *self;
  guint                  tries;
} ScrollData;

static void
scroll_data_free (ScrollData *data)
{
  g_object_unref (data->self);
  g_free (data);
}

static gboolean
scroll_to_result_cb (gpointer user_data)
{
  ScrollData *data = user_data;
  DispatchAccountDialog *self = data->self;
  GtkWidget *scroller;
  GtkWidget *content;
  GtkAdjustment *adjustment;
  graphene_rect_t row;
  graphene_rect_t end;

  if (self->disposed)
    return G_SOURCE_REMOVE;

  scroller = gtk_widget_get_ancestor (GTK_WIDGET (self->test_row), GTK_TYPE_SCROLLED_WINDOW);
  if (scroller == NULL)
    return G_SOURCE_REMOVE;

  /* The page inside the viewport moves as it scrolls; bounds in it are offsets from its top. */
  content = gtk_scrolled_window_get_child (GTK_SCROLLED_WINDOW (scroller));
  if (GTK_IS_VIEWPORT (content))
    content = gtk_viewport_get_child (GTK_VIEWPORT (content));
  adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller));

  /* Offsets from the top of the whole page. The row
   * first, then as much of what follows as fits. */
  if (gtk_widget_compute_bounds (GTK_WIDGET (self->test_row), content, &row) &&
      gtk_widget_compute_bounds (GTK_WIDGET (self->test_frame), content, &end))
    {
      double page = gtk_adjustment_get_page_size (adjustment);
      double top = gtk_adjustment_get_value (adjustment);
      double bottom = MIN (end.origin.y + end.size.height, row.origin.y + page);

      /* As gtk_adjustment_clamp_page() would, without its animation: GTK 4.8 complains when a
       * window closes while a scrolling animation runs. */
      if (bottom > top + page)
        top = bottom - page;
      if (row.origin.y < top)
        top = row.origin.y;
      gtk_adjustment_set_value (adjustment, top);
    }

  return ++data->tries < SCROLL_TRIES ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
scroll_to_result (DispatchAccountDialog *self)
{
  ScrollData *data = g_new0 (ScrollData, 1);

  data->self = g_object_ref (self);
  g_timeout_add_full (G_PRIORITY_LOW, 50, scroll_to_result_cb, data, (GDestroyNotify) scroll_data_free);
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
  gboolean without_password = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (session), "without-password"));

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
      if (without_password)
        adw_action_row_set_subtitle (self->test_row, _("The server answers; signing in was not tested"));
      else
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

      if (g_error_matches (error, DISPATCH_ERROR, DISPATCH_ERROR_CERTIFICATE_UNTRUSTED))
        {
          g_autofree char *fingerprint = dispatch_certificate_format_fingerprint (dispatch_error_get_fingerprint (error));

          /* Translators: followed by the certificate's SHA-256 fingerprint on two lines */
          g_string_append_printf (details, "%s\n%s\n", _("SHA-256 fingerprint:"), fingerprint);
          gtk_widget_set_visible (self->test_certificate_box, TRUE);
          g_clear_error (&self->test_error);
          self->test_error = g_steal_pointer (&error);
        }
      else
        g_clear_object (&self->test_account);
    }

  if (without_password)
    g_string_append_printf (details, "%s\n",
                            _("The saved password belongs to the server this account had before; it is not sent to another one. Type the password above to test signing in here."));

  if (details->len > 0)
    g_string_truncate (details, details->len - 1);

  show_test_details (self, details->str);
  scroll_to_result (self);
}

static void
start_test (DispatchAccountDialog *self)
{
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(GError) error = NULL;
  const char *password = NULL;
  gboolean without_password = FALSE;

  if (self->session != NULL)
    return;

  gtk_widget_set_visible (self->test_certificate_box, FALSE);
  g_clear_error (&self->test_error);
  g_clear_object (&self->test_account);

  account = dispatch_settings_create_account (self->settings);
  if (!dispatch_account_validate (account, &error))
    {
      gtk_stack_set_visible_child_name (self->test_icon_stack, "error");
      adw_action_row_set_subtitle (self->test_row, error->message);
      show_test_details (self, NULL);
      return;
    }

  if (dispatch_account_get_user (account) != NULL)
    {
      /* A password typed here is for the account as it stands now. One that came from the
       * keyring was stored for a server and user, and goes to that server and user only. */
      if (self->password_dirty || is_stored_server (self, account))
        {
          save_password (self, FALSE);
          password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));
          if (password[0] == '\0')
            password = NULL;
        }
      else
        {
          dispatch_account_set_user (account, NULL);
          without_password = TRUE;
        }
    }

  self->test_account = g_object_ref (account);
  self->session = dispatch_smtp_session_new ();
  g_object_set_data (G_OBJECT (self->session), "without-password", GUINT_TO_POINTER (without_password));
  g_signal_connect (self->session, "transcript", G_CALLBACK (test_transcript_cb), self);

  dispatch_transcript_view_clear (self->test_transcript);
  gtk_widget_set_visible (GTK_WIDGET (self->test_frame), TRUE);
  gtk_stack_set_visible_child_name (self->test_icon_stack, "busy");
  gtk_spinner_start (self->test_spinner);
  adw_action_row_set_subtitle (self->test_row, _("Testing…"));
  show_test_details (self, NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "account.test", FALSE);

  dispatch_smtp_session_test_async (self->session, account, password,
                                    NULL, self->cancellable, test_cb, g_object_ref (self));
}

static void
test_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *param)
{
  start_test (DISPATCH_ACCOUNT_DIALOG (widget));
}

static void
certificate_response_cb (DispatchCertificateDialog *dialog,
                         const char                *response,
                         DispatchAccountDialog     *self)
{
  const char *fingerprint = dispatch_certificate_dialog_get_fingerprint (dialog);

  if (g_strcmp0 (response, "trust") != 0 || fingerprint == NULL)
    return;

  dispatch_settings_set_pin (self->settings, dispatch_certificate_dialog_get_host (dialog),
                             dispatch_certificate_dialog_get_port (dialog), fingerprint);
  start_test (self);
}

static void
trust_certificate_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *param)
{
  DispatchAccountDialog *self = DISPATCH_ACCOUNT_DIALOG (widget);
  GtkWidget *dialog;

  if (self->test_error == NULL || self->test_account == NULL)
    return;

  /* Pinned for the server the test met it at, even if the settings changed since. */
  dialog = dispatch_certificate_dialog_new (GTK_WINDOW (self), self->test_error,
                                            dispatch_account_get_host (self->test_account),
                                            dispatch_account_get_effective_port (self->test_account));
  g_signal_connect_object (dialog, "response", G_CALLBACK (certificate_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}


/* GObject */

static gboolean
dispatch_account_dialog_close_request (GtkWindow *window)
{
  save_password (DISPATCH_ACCOUNT_DIALOG (window), TRUE);

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
  if (self->ca_chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->ca_chooser));
  g_clear_object (&self->ca_chooser);

  gtk_widget_dispose_template (GTK_WIDGET (self), DISPATCH_TYPE_ACCOUNT_DIALOG);

  G_OBJECT_CLASS (dispatch_account_dialog_parent_class)->dispose (object);
}

static void
dispatch_account_dialog_finalize (GObject *object)
{
  DispatchAccountDialog *self = (DispatchAccountDialog *)object;

  g_clear_object (&self->settings);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->test_account);
  g_clear_error (&self->test_error);
  g_free (self->stored_host);
  g_free (self->stored_user);

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
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, ca_file_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, ca_file_clear_button);
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
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, test_certificate_box);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, test_frame);
  gtk_widget_class_bind_template_child (widget_class, DispatchAccountDialog, test_transcript);

  gtk_widget_class_install_action (widget_class, "account.test", NULL, test_action);
  gtk_widget_class_install_action (widget_class, "account.trust-certificate", NULL, trust_certificate_action);
  gtk_widget_class_install_action (widget_class, "account.choose-ca-file", NULL, choose_ca_file_action);
  gtk_widget_class_install_action (widget_class, "account.clear-ca-file", NULL, clear_ca_file_action);
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

/* Escape closes the dialog from the password field too, whatever the row's own key handling
 * makes of it first (libadwaita 1.2's entry rows have their apply and peek states). */
static gboolean
password_key_pressed_cb (DispatchAccountDialog *self,
                         guint                  keyval,
                         guint                  keycode,
                         GdkModifierType        state)
{
  if (keyval != GDK_KEY_Escape || (state & gtk_accelerator_get_default_mod_mask ()) != 0)
    return GDK_EVENT_PROPAGATE;

  gtk_window_close (GTK_WINDOW (self));
  return GDK_EVENT_STOP;
}

static void
dispatch_account_dialog_init (DispatchAccountDialog *self)
{
  GtkEventController *keys;
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
  g_signal_connect_object (self->settings, "changed::ca-file",
                           G_CALLBACK (update_ca_file_row), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->sender_address_row, "changed",
                           G_CALLBACK (sender_address_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->password_row, "changed",
                           G_CALLBACK (password_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->password_row, "apply",
                           G_CALLBACK (apply_password_cb), self, G_CONNECT_SWAPPED);

  name_icon_buttons_by_tooltip (GTK_WIDGET (self->password_row));

  keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect_object (keys, "key-pressed", G_CALLBACK (password_key_pressed_cb), self, G_CONNECT_SWAPPED);
  gtk_widget_add_controller (GTK_WIDGET (self->password_row), keys);

  update_provider_help (self);
  update_ca_file_row (self);
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
