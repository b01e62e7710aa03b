/* test-account-dialog.c — provider presets, settings and "Test connection", under Xvfb.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>

#include "dispatch-account-dialog.h"
#include "dispatch-certificate-dialog.h"
#include "dispatch-engine.h"
#include "dispatch-password-dialog.h"
#include "dispatch-secret.h"
#include "dispatch-settings.h"
#include "dispatch-setup-banner.h"
#include "dispatch-test-server.h"
#include "dispatch-transcript-view.h"
#include "dispatch-window.h"

#define WAIT_UNTIL(condition)                                                        \
  G_STMT_START {                                                                     \
    gint64 wait_end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;                \
    while (!(condition))                                                             \
      {                                                                              \
        if (g_get_monotonic_time () > wait_end)                                      \
          g_error ("Timed out waiting for %s", #condition);                         \
        if (!g_main_context_iteration (NULL, FALSE))                                 \
          g_usleep (2000);                                                           \
      }                                                                              \
  } G_STMT_END

static GtkWidget *
child (GtkWidget  *dialog,
       const char *name)
{
  GObject *object = gtk_widget_get_template_child (dialog, DISPATCH_TYPE_ACCOUNT_DIALOG, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static void
save_screenshot (GtkWidget  *widget,
                 const char *name)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  const char *builddir = g_getenv ("G_TEST_BUILDDIR");
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);

  /* A widget that was just laid out again has nothing to show until its next frame. */
  for (guint tries = 0; node == NULL && tries < 500; tries++)
    {
      g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();

      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);

      width = gtk_widget_get_width (widget);
      height = gtk_widget_get_height (widget);
      gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
      node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
    }
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, width, height));

  dir = g_build_filename (builddir ? builddir : ".", "screenshots", NULL);
  g_mkdir_with_parents (dir, 0755);
  path = g_build_filename (dir, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("Screenshot: %s", path);
}

static guint
provider_position (GtkWidget  *dialog,
                   const char *name)
{
  GListModel *model = adw_combo_row_get_model (ADW_COMBO_ROW (child (dialog, "provider_row")));

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      if (g_strcmp0 (gtk_string_list_get_string (GTK_STRING_LIST (model), i), name) == 0)
        return i;
    }

  g_error ("No provider “%s”", name);
}

static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
}

/* The first visible toplevel of @type, or NULL. */
static GtkWidget *
find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type) && gtk_widget_get_visible (window))
        return window;
    }

  return NULL;
}

/* The first widget of @type under @widget, depth first. */
static GtkWidget *
find_descendant (GtkWidget *widget,
                 GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return widget;

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_descendant (c, type);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static void
stored_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (dispatch_secret_store_finish (result, &error));
  g_assert_no_error (error);
  *done = TRUE;
}

static void
store_password (const char *host,
                guint       port,
                const char *user,
                const char *password)
{
  gboolean done = FALSE;

  dispatch_secret_store_async (host, port, user, password, NULL, stored_cb, &done);
  WAIT_UNTIL (done);
}

static void
found_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  char **password = user_data;
  g_autoptr(GError) error = NULL;

  *password = dispatch_secret_lookup_finish (result, &error);
  g_assert_no_error (error);
  if (*password == NULL)
    *password = g_strdup ("");
}

/* The password stored for host, port and user; "" when there is none. */
static char *
find_password (const char *host,
               guint       port,
               const char *user)
{
  char *password = NULL;

  dispatch_secret_lookup_async (host, port, user, NULL, found_cb, &password);
  WAIT_UNTIL (password != NULL);

  return password;
}

static gboolean
password_at_is (const char *host,
                guint       port,
                const char *expected)
{
  g_autofree char *password = find_password (host, port, "ann@example.org");

  return g_str_equal (password, expected);
}

/* A port nobody listens on: one that was free a moment ago. */
static guint16
closed_port (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, NULL);

  g_socket_listener_close (listener);
  return port;
}

/* Ann signs in at 127.0.0.1:@port over plain TCP (the scripted server has no TLS here). */
static void
configure_signed_in_account (guint16 port)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();

  g_settings_reset (settings, "pinned-certificates");
  g_settings_set_string (settings, "provider", "custom");
  g_settings_set_string (settings, "host", "127.0.0.1");
  g_settings_set_uint (settings, "port", port);
  g_settings_set_enum (settings, "security", DISPATCH_SMTP_SECURITY_NONE);
  g_settings_set_string (settings, "user", "ann@example.org");
  g_settings_set_boolean (settings, "allow-plaintext-auth", TRUE);
  g_settings_set_uint (settings, "timeout", 10);
  g_settings_set_string (settings, "sender-address", "ann@example.org");
}

static void
reset_account (void)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  const char *keys[] = { "provider", "host", "port", "security", "user", "allow-plaintext-auth",
                         "timeout", "sender-address", "pinned-certificates", "ca-file",
                         "account-set-up" };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    g_settings_reset (settings, keys[i]);
}

static DispatchWindow *
open_window (void)
{
  DispatchWindow *window = dispatch_window_new (NULL);
  g_autofree char *draft = dispatch_window_dup_draft_path ();

  g_remove (draft);
  gtk_window_set_default_size (GTK_WINDOW (window), 1040, 720);
  gtk_window_present (GTK_WINDOW (window));
  WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)));

  return window;
}

static GtkWidget *
window_child (DispatchWindow *window,
              const char     *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (window), DISPATCH_TYPE_WINDOW, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static void
fill_form (DispatchWindow *window)
{
  gtk_editable_set_text (GTK_EDITABLE (window_child (window, "to_row")), "Bob <bob@example.org>");
  gtk_editable_set_text (GTK_EDITABLE (window_child (window, "subject_row")), "Lab 3");
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (window_child (window, "body_view"))),
                            "Hi Bob,\n\nthe picture follows.\n", -1);
}

static void
close_window (DispatchWindow *window)
{
  g_autofree char *draft = dispatch_window_dup_draft_path ();
  g_autoptr(GtkWidget) ref = g_object_ref (GTK_WIDGET (window));

  gtk_window_close (GTK_WINDOW (window));
  gtk_window_destroy (GTK_WINDOW (window));
  spin (50);
  g_remove (draft);
}

/* The script of a server that wants Ann to sign in with @password and then takes the message. */
static char *
auth_script (const char *password)
{
  const char *user = "ann@example.org";
  gsize length = 1 + strlen (user) + 1 + strlen (password);
  g_autofree guchar *raw = g_malloc0 (length);
  g_autofree char *credentials = NULL;

  /* authzid NUL authcid NUL password (RFC 4616), the authzid empty. */
  memcpy (raw + 1, user, strlen (user));
  memcpy (raw + 2 + strlen (user), password, strlen (password));
  credentials = g_base64_encode (raw, length);

  return g_strdup_printf ("send 220 test.example ESMTP\n"
                          "expect EHLO *\n"
                          "send 250-test.example\n"
                          "send 250 AUTH PLAIN LOGIN\n"
                          "expect AUTH PLAIN %s\n"
                          "send 235 2.7.0 Authentication successful\n"
                          "expect MAIL FROM:<ann@example.org>*\n"
                          "send 250 Ok\n"
                          "expect RCPT TO:<bob@example.org>\n"
                          "send 250 Ok\n"
                          "expect DATA\n"
                          "send 354 Go ahead\n"
                          "data\n"
                          "send 250 2.0.0 Ok: queued as AUTH1\n"
                          "expect QUIT\n"
                          "send 221 Bye\n", credentials);
}

static GtkWidget *
open_dialog (void)
{
  GtkWidget *dialog = dispatch_account_dialog_new (NULL);

  gtk_window_present (GTK_WINDOW (dialog));
  WAIT_UNTIL (gtk_widget_get_mapped (dialog));

  return dialog;
}

static const char *keys_without_secrets[] = {
  "provider", "host", "user", "sender-name", "sender-address", "ca-file", "pinned-certificates",
};

static void
test_defaults (void)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  g_autoptr(DispatchAccount) account = NULL;
  g_autofree char *sender = NULL;

  /* A newcomer can send at once to a local test server. */
  g_settings_reset (settings, "provider");
  g_settings_reset (settings, "host");
  g_settings_reset (settings, "port");
  g_settings_reset (settings, "security");
  g_settings_reset (settings, "sender-address");
  g_settings_reset (settings, "user");

  account = dispatch_settings_create_account (settings);
  g_assert_cmpstr (dispatch_account_get_host (account), ==, "127.0.0.1");
  g_assert_cmpuint (dispatch_account_get_effective_port (account), ==, 8025);
  g_assert_cmpint (dispatch_account_get_security (account), ==, DISPATCH_SMTP_SECURITY_NONE);
  g_assert_false (dispatch_account_get_allow_plaintext_auth (account));
  sender = dispatch_settings_dup_sender_address (settings);
  g_assert_true (g_str_has_suffix (sender, "@localhost"));
}

static void
test_presets (void)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  g_autofree char *host = NULL;
  g_autofree char *provider = NULL;
  GtkWidget *dialog = open_dialog ();
  AdwComboRow *provider_row = ADW_COMBO_ROW (child (dialog, "provider_row"));

  adw_combo_row_set_selected (provider_row, provider_position (dialog, "Gmail"));
  host = g_settings_get_string (settings, "host");
  g_assert_cmpstr (host, ==, "smtp.gmail.com");
  g_assert_cmpuint (g_settings_get_uint (settings, "port"), ==, 587);
  g_assert_cmpint (g_settings_get_enum (settings, "security"), ==, DISPATCH_SMTP_SECURITY_STARTTLS);
  g_assert_cmpuint (adw_combo_row_get_selected (ADW_COMBO_ROW (child (dialog, "security_row"))), ==, 0);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (dialog, "host_row"))), ==, "smtp.gmail.com");
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (child (dialog, "provider_help"))), "app password"));

  adw_combo_row_set_selected (provider_row, provider_position (dialog, "Yahoo"));
  g_assert_cmpuint (g_settings_get_uint (settings, "port"), ==, 465);
  g_assert_cmpint (g_settings_get_enum (settings, "security"), ==, DISPATCH_SMTP_SECURITY_TLS);

  adw_combo_row_set_selected (provider_row, provider_position (dialog, "Local test server"));
  g_clear_pointer (&host, g_free);
  host = g_settings_get_string (settings, "host");
  g_assert_cmpstr (host, ==, "127.0.0.1");
  g_assert_cmpuint (g_settings_get_uint (settings, "port"), ==, 8025);
  g_assert_cmpint (g_settings_get_enum (settings, "security"), ==, DISPATCH_SMTP_SECURITY_NONE);

  /* "Other" fills in nothing: the server stays as it was. */
  adw_combo_row_set_selected (provider_row, provider_position (dialog, "Other"));
  provider = g_settings_get_string (settings, "provider");
  g_assert_cmpstr (provider, ==, "custom");
  g_clear_pointer (&host, g_free);
  host = g_settings_get_string (settings, "host");
  g_assert_cmpstr (host, ==, "127.0.0.1");

  /* The switch is off until the user turns it on. */
  g_assert_false (gtk_switch_get_active (GTK_SWITCH (child (dialog, "plaintext_switch"))));
  gtk_switch_set_active (GTK_SWITCH (child (dialog, "plaintext_switch")), TRUE);
  g_assert_true (g_settings_get_boolean (settings, "allow-plaintext-auth"));
  g_settings_reset (settings, "allow-plaintext-auth");

  gtk_spin_button_set_value (GTK_SPIN_BUTTON (child (dialog, "timeout_spin")), 30);
  g_assert_cmpuint (g_settings_get_uint (settings, "timeout"), ==, 30);

  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
test_connection (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 test.example ESMTP ready\n"
    "expect EHLO *\n"
    "send 250-test.example\n"
    "send 250 8BITMIME\n"
    "expect QUIT\n"
    "send 221 Bye\n");
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *transcript = NULL;
  GtkWidget *dialog;
  GtkStack *icon_stack;

  g_settings_set_string (settings, "host", "127.0.0.1");
  g_settings_set_uint (settings, "port", dispatch_test_server_start (server));
  g_settings_set_enum (settings, "security", DISPATCH_SMTP_SECURITY_NONE);
  g_settings_set_string (settings, "user", "");

  dialog = open_dialog ();
  icon_stack = GTK_STACK (child (dialog, "test_icon_stack"));

  g_assert_true (gtk_widget_activate_action (dialog, "account.test", NULL));
  WAIT_UNTIL (g_strcmp0 (gtk_stack_get_visible_child_name (icon_stack), "busy") != 0);
  g_assert_true (dispatch_test_server_finish (server, &error));
  g_assert_no_error (error);

  g_assert_cmpstr (gtk_stack_get_visible_child_name (icon_stack), ==, "success");
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (child (dialog, "test_details"))), "Not signed in"));
  transcript = dispatch_transcript_view_dup_text (DISPATCH_TRANSCRIPT_VIEW (child (dialog, "test_transcript")));
  g_assert_nonnull (strstr (transcript, "S: 220 test.example ESMTP ready"));
  g_assert_nonnull (strstr (transcript, "C: QUIT"));

  /* Let it lay out the transcript it just grew before taking the picture. */
  {
    gint64 end = g_get_monotonic_time () + 300 * 1000;

    while (g_get_monotonic_time () < end)
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
  }
  save_screenshot (dialog, "account-dialog.png");

  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
test_connection_refused (void)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  GtkWidget *dialog;
  GtkStack *icon_stack;
  guint16 port;

  /* A port that was free a moment ago: nobody listens there now. */
  port = g_socket_listener_add_any_inet_port (listener, NULL, NULL);
  g_socket_listener_close (listener);

  g_settings_set_string (settings, "host", "127.0.0.1");
  g_settings_set_uint (settings, "port", port);
  g_settings_set_enum (settings, "security", DISPATCH_SMTP_SECURITY_NONE);

  dialog = open_dialog ();
  icon_stack = GTK_STACK (child (dialog, "test_icon_stack"));

  g_assert_true (gtk_widget_activate_action (dialog, "account.test", NULL));
  WAIT_UNTIL (g_strcmp0 (gtk_stack_get_visible_child_name (icon_stack), "busy") != 0);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (icon_stack), ==, "error");

  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
looked_up_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  char **password = user_data;
  g_autoptr(GError) error = NULL;

  *password = dispatch_secret_lookup_finish (result, &error);
  g_assert_no_error (error);
  if (*password == NULL)
    *password = g_strdup ("");
}

static char *
lookup_password (void)
{
  char *password = NULL;

  dispatch_secret_lookup_async ("smtp.example.org", 587, "ann@example.org", NULL, looked_up_cb, &password);
  WAIT_UNTIL (password != NULL);

  return password;
}

static gboolean
stored_password_is (const char *expected)
{
  g_autofree char *password = lookup_password ();

  return g_str_equal (password, expected);
}

static void
test_password (void)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  GtkWidget *dialog;
  GtkWidget *password_row;

  if (g_getenv ("DISPATCH_TEST_KEYRING") == NULL)
    {
      g_test_skip ("needs a Secret Service (run through run-with-keyring.sh)");
      return;
    }

  g_settings_set_string (settings, "host", "smtp.example.org");
  g_settings_set_uint (settings, "port", 587);
  g_settings_set_enum (settings, "security", DISPATCH_SMTP_SECURITY_STARTTLS);
  g_settings_set_string (settings, "user", "ann@example.org");

  /* Typed and applied: into the keyring, never into the settings. */
  dialog = open_dialog ();
  password_row = child (dialog, "password_row");
  gtk_editable_set_text (GTK_EDITABLE (password_row), "s3cret-Pa55word!");
  g_signal_emit_by_name (password_row, "apply");
  WAIT_UNTIL (stored_password_is ("s3cret-Pa55word!"));
  gtk_window_destroy (GTK_WINDOW (dialog));

  for (guint i = 0; i < G_N_ELEMENTS (keys_without_secrets); i++)
    {
      g_autoptr(GVariant) value = g_settings_get_value (settings, keys_without_secrets[i]);
      g_autofree char *printed = g_variant_print (value, FALSE);

      g_assert_null (strstr (printed, "s3cret"));
    }

  /* Shown again next time… */
  dialog = open_dialog ();
  password_row = child (dialog, "password_row");
  WAIT_UNTIL (g_str_equal (gtk_editable_get_text (GTK_EDITABLE (password_row)), "s3cret-Pa55word!"));

  /* …and emptied, it leaves the keyring when the dialog closes. */
  gtk_editable_set_text (GTK_EDITABLE (password_row), "");
  gtk_window_close (GTK_WINDOW (dialog));
  WAIT_UNTIL (stored_password_is (""));

  g_settings_reset (settings, "user");
}

static gboolean
keyring_missing (void)
{
  if (g_getenv ("DISPATCH_TEST_KEYRING") != NULL)
    return FALSE;

  g_test_skip ("needs a Secret Service (run through run-with-keyring.sh)");
  return TRUE;
}

/* Changing the port from the one the password was saved for keeps the password, and Send
 * signs in with it. */
static void
test_port_change_keeps_password (void)
{
  g_autofree char *script = auth_script ("k33p-Me");
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (script);
  g_autoptr(GError) error = NULL;
  guint16 old_port = closed_port ();
  guint16 port;
  DispatchWindow *window;
  GtkWidget *dialog;

  if (keyring_missing ())
    return;

  port = dispatch_test_server_start (server);
  configure_signed_in_account (old_port);
  store_password ("127.0.0.1", old_port, "ann@example.org", "k33p-Me");

  dialog = open_dialog ();
  WAIT_UNTIL (g_str_equal (gtk_editable_get_text (GTK_EDITABLE (child (dialog, "password_row"))), "k33p-Me"));
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (child (dialog, "port_spin")), port);
  gtk_window_close (GTK_WINDOW (dialog));

  WAIT_UNTIL (password_at_is ("127.0.0.1", port, "k33p-Me"));
  g_assert_true (password_at_is ("127.0.0.1", old_port, ""));

  window = open_window ();
  fill_form (window);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
  WAIT_UNTIL (!dispatch_window_is_sending (window));
  g_assert_true (dispatch_test_server_finish (server, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (dispatch_test_server_get_n_messages (server), ==, 1);
  g_assert_null (find_toplevel (DISPATCH_TYPE_PASSWORD_DIALOG));

  close_window (window);
  reset_account ();
}

/* No password stored: Send asks for it, signs in with it and, asked to, remembers it. */
static void
test_missing_password_asked (void)
{
  g_autofree char *script = auth_script ("typ3d-Here");
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (script);
  g_autoptr(GError) error = NULL;
  DispatchWindow *window;
  GtkWidget *dialog;
  guint16 port;

  if (keyring_missing ())
    return;

  port = dispatch_test_server_start (server);
  configure_signed_in_account (port);
  g_assert_true (password_at_is ("127.0.0.1", port, ""));

  window = open_window ();
  fill_form (window);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
  WAIT_UNTIL ((dialog = find_toplevel (DISPATCH_TYPE_PASSWORD_DIALOG)) != NULL);
  g_assert_true (dispatch_window_is_sending (window));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "ann@example.org"));

  spin (200);
  save_screenshot (dialog, "password-dialog.png");

  /* Nothing to send before something is typed. */
  g_assert_false (adw_message_dialog_get_response_enabled (ADW_MESSAGE_DIALOG (dialog), "send"));
  gtk_editable_set_text (GTK_EDITABLE (find_descendant (dialog, GTK_TYPE_PASSWORD_ENTRY)), "typ3d-Here");
  g_assert_true (gtk_switch_get_active (GTK_SWITCH (find_descendant (dialog, GTK_TYPE_SWITCH))));
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "send");
  gtk_window_destroy (GTK_WINDOW (dialog));

  WAIT_UNTIL (!dispatch_window_is_sending (window));
  g_assert_true (dispatch_test_server_finish (server, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (dispatch_test_server_get_n_messages (server), ==, 1);
  WAIT_UNTIL (password_at_is ("127.0.0.1", port, "typ3d-Here"));

  /* Into the keyring, nowhere else. */
  {
    g_autoptr(GSettings) settings = dispatch_settings_new ();
    g_autoptr(GSettingsSchema) schema = NULL;
    g_auto(GStrv) keys = NULL;

    g_object_get (settings, "settings-schema", &schema, NULL);
    keys = g_settings_schema_list_keys (schema);
    for (guint i = 0; keys[i] != NULL; i++)
      {
        g_autoptr(GVariant) value = g_settings_get_value (settings, keys[i]);
        g_autofree char *printed = g_variant_print (value, FALSE);

        g_assert_null (strstr (printed, "typ3d"));
      }
  }

  close_window (window);
  reset_account ();
}

/* Cancel in the question: no connection, no error, the form as it was. */
static void
test_missing_password_cancelled (void)
{
  DispatchWindow *window;
  GtkWidget *dialog;
  g_autofree char *body = NULL;
  GtkTextBuffer *buffer;
  GtkTextIter start, end;
  guint16 port = closed_port ();

  if (keyring_missing ())
    return;

  configure_signed_in_account (port);

  window = open_window ();
  fill_form (window);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
  WAIT_UNTIL ((dialog = find_toplevel (DISPATCH_TYPE_PASSWORD_DIALOG)) != NULL);
  gtk_editable_set_text (GTK_EDITABLE (find_descendant (dialog, GTK_TYPE_PASSWORD_ENTRY)), "n0t-Used");
  gtk_switch_set_active (GTK_SWITCH (find_descendant (dialog, GTK_TYPE_SWITCH)), TRUE);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  gtk_window_destroy (GTK_WINDOW (dialog));

  WAIT_UNTIL (!dispatch_window_is_sending (window));
  g_assert_false (gtk_revealer_get_reveal_child (GTK_REVEALER (window_child (window, "result_revealer"))));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (window_child (window, "to_row"))), ==, "Bob <bob@example.org>");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (window_child (window, "subject_row"))), ==, "Lab 3");
  buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (window_child (window, "body_view")));
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  body = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  g_assert_cmpstr (body, ==, "Hi Bob,\n\nthe picture follows.\n");
  g_assert_true (password_at_is ("127.0.0.1", port, ""));
  g_assert_true (gtk_widget_get_sensitive (window_child (window, "send_button")));

  close_window (window);
  reset_account ();
}

/* Test connection after the server was changed: the password saved for the old server stays
 * home. Typed anew, it is used. */
static void
test_connection_new_server (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 other.example ESMTP\n"
    "expect EHLO *\n"
    "send 250-other.example\n"
    "send 250 AUTH PLAIN LOGIN\n"
    "expect QUIT\n"
    "send 221 Bye\n");
  g_autoptr(DispatchTestServer) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) received = NULL;
  g_autofree char *typed_script = NULL;
  guint16 old_port = closed_port ();
  GtkWidget *dialog;
  GtkStack *icon_stack;
  const char *details;

  if (keyring_missing ())
    return;

  configure_signed_in_account (old_port);
  store_password ("127.0.0.1", old_port, "ann@example.org", "0ld-Server-Only");

  dialog = open_dialog ();
  icon_stack = GTK_STACK (child (dialog, "test_icon_stack"));
  WAIT_UNTIL (g_str_equal (gtk_editable_get_text (GTK_EDITABLE (child (dialog, "password_row"))), "0ld-Server-Only"));

  /* Another host name for the loopback, and another port. */
  gtk_editable_set_text (GTK_EDITABLE (child (dialog, "host_row")), "localhost");
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (child (dialog, "port_spin")), dispatch_test_server_start (server));

  g_assert_true (gtk_widget_activate_action (dialog, "account.test", NULL));
  WAIT_UNTIL (g_strcmp0 (gtk_stack_get_visible_child_name (icon_stack), "busy") != 0);
  g_assert_true (dispatch_test_server_finish (server, &error));
  g_assert_no_error (error);
  received = dispatch_test_server_get_received (server);
  g_assert_null (g_strstr_len (g_bytes_get_data (received, NULL), g_bytes_get_size (received), "AUTH"));

  g_assert_cmpstr (gtk_stack_get_visible_child_name (icon_stack), ==, "success");
  details = gtk_label_get_text (GTK_LABEL (child (dialog, "test_details")));
  g_assert_nonnull (strstr (details, "Not signed in"));
  g_assert_nonnull (strstr (details, "not sent to another one"));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (child (dialog, "test_row"))), ==,
                   "The server answers; signing in was not tested");

  /* Typed here, the password is meant for this server. */
  typed_script = g_strdup_printf ("send 220 other.example ESMTP\n"
                                  "expect EHLO *\n"
                                  "send 250-other.example\n"
                                  "send 250 AUTH PLAIN\n"
                                  "expect AUTH PLAIN %s\n"
                                  "send 235 2.7.0 Accepted\n"
                                  "expect QUIT\n"
                                  "send 221 Bye\n",
                                  "AGFubkBleGFtcGxlLm9yZwBuM3ctSGVyZQ==");
  second = dispatch_test_server_new (typed_script);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (child (dialog, "port_spin")), dispatch_test_server_start (second));
  gtk_editable_set_text (GTK_EDITABLE (child (dialog, "password_row")), "n3w-Here");
  g_assert_true (gtk_widget_activate_action (dialog, "account.test", NULL));
  WAIT_UNTIL (g_strcmp0 (gtk_stack_get_visible_child_name (icon_stack), "busy") != 0);
  g_assert_true (dispatch_test_server_finish (second, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (icon_stack), ==, "success");
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (child (dialog, "test_details"))), "Signed in with PLAIN"));

  gtk_window_destroy (GTK_WINDOW (dialog));
  reset_account ();
}

static GtkWidget *
find_button_with_action (GtkWidget  *widget,
                         const char *action)
{
  if (GTK_IS_BUTTON (widget) && gtk_widget_get_visible (widget) &&
      g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), action) == 0)
    return widget;

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_button_with_action (c, action);

      if (found != NULL)
        return found;
    }

  return NULL;
}

/* Is @widget wholly inside the visible part of the page that @adjustment scrolls? */
static gboolean
in_view (GtkAdjustment *adjustment,
         GtkWidget     *widget)
{
  GtkWidget *scroller = gtk_widget_get_ancestor (widget, GTK_TYPE_SCROLLED_WINDOW);
  GtkWidget *content = gtk_scrolled_window_get_child (GTK_SCROLLED_WINDOW (scroller));
  double top = gtk_adjustment_get_value (adjustment);
  graphene_rect_t bounds;

  /* The page itself, which moves inside the viewport: offsets from its top. */
  if (GTK_IS_VIEWPORT (content))
    content = gtk_viewport_get_child (GTK_VIEWPORT (content));

  if (!gtk_widget_compute_bounds (widget, content, &bounds) || bounds.size.height <= 0)
    return FALSE;

  return bounds.origin.y >= top &&
         bounds.origin.y + bounds.size.height <= top + gtk_adjustment_get_page_size (adjustment);
}

/* An untrusted certificate met by Test: the fingerprint shown grouped, "Trust for This Server"
 * pins it for that server, the CA file chooser is offered, and the result is scrolled to. */
static void
test_connection_untrusted_certificate (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new ("tls\n");
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  g_autofree char *pin = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *grouped = NULL;
  GtkWidget *dialog;
  GtkWidget *trust;
  GtkStack *icon_stack;
  GtkWidget *scroller;
  GtkAdjustment *adjustment;
  guint16 port;

  port = dispatch_test_server_start (server);
  g_settings_reset (settings, "pinned-certificates");
  g_settings_set_string (settings, "host", "127.0.0.1");
  g_settings_set_uint (settings, "port", port);
  g_settings_set_enum (settings, "security", DISPATCH_SMTP_SECURITY_TLS);
  g_settings_set_string (settings, "user", "");

  dialog = open_dialog ();
  gtk_window_set_default_size (GTK_WINDOW (dialog), 640, 600);
  icon_stack = GTK_STACK (child (dialog, "test_icon_stack"));
  scroller = gtk_widget_get_ancestor (child (dialog, "test_row"), GTK_TYPE_SCROLLED_WINDOW);
  adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller));
  gtk_adjustment_set_value (adjustment, 0);

  g_assert_true (gtk_widget_activate_action (dialog, "account.test", NULL));
  WAIT_UNTIL (g_strcmp0 (gtk_stack_get_visible_child_name (icon_stack), "busy") != 0);
  dispatch_test_server_finish (server, NULL);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (icon_stack), ==, "error");
  g_assert_true (gtk_widget_get_visible (child (dialog, "test_certificate_box")));

  /* The result came into view: the row and the buttons under it. */
  WAIT_UNTIL (in_view (adjustment, child (dialog, "test_row")) &&
              in_view (adjustment, child (dialog, "test_certificate_box")));

  spin (200);
  save_screenshot (dialog, "account-dialog-untrusted.png");

  /* A CA file is the other way out, as the hint says: the chooser is one click away. */
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (child (dialog, "test_details"))), "CA file"));
  g_assert_nonnull (find_button_with_action (child (dialog, "test_certificate_box"), "account.choose-ca-file"));
  g_assert_nonnull (find_button_with_action (child (dialog, "test_certificate_box"), "account.trust-certificate"));

  g_assert_true (gtk_widget_activate_action (dialog, "account.trust-certificate", NULL));
  WAIT_UNTIL ((trust = find_toplevel (DISPATCH_TYPE_CERTIFICATE_DIALOG)) != NULL);
  g_assert_cmpuint (dispatch_certificate_dialog_get_port (DISPATCH_CERTIFICATE_DIALOG (trust)), ==, port);
  grouped = dispatch_certificate_format_fingerprint (dispatch_certificate_dialog_get_fingerprint (DISPATCH_CERTIFICATE_DIALOG (trust)));
  g_assert_cmpuint (strlen (grouped), ==, 32 * 2 + 31);
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (child (dialog, "test_details"))), grouped));

  fingerprint = g_strdup (dispatch_certificate_dialog_get_fingerprint (DISPATCH_CERTIFICATE_DIALOG (trust)));
  g_assert_null (dispatch_settings_dup_pin (settings, "127.0.0.1", port));
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (trust), "trust");
  gtk_window_destroy (GTK_WINDOW (trust));
  pin = dispatch_settings_dup_pin (settings, "127.0.0.1", port);
  g_assert_cmpstr (pin, ==, fingerprint);
  g_assert_cmpuint (strlen (pin), ==, 64);

  /* …and the test runs again, with the certificate trusted (the scripted server is gone now). */
  WAIT_UNTIL (g_strcmp0 (gtk_stack_get_visible_child_name (icon_stack), "busy") != 0);

  gtk_window_destroy (GTK_WINDOW (dialog));
  reset_account ();
}

/* A preset whose port is changed stays that provider, with its help. */
static void
test_edited_preset (void)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  g_autofree char *provider = NULL;
  GtkWidget *dialog = open_dialog ();
  AdwComboRow *provider_row = ADW_COMBO_ROW (child (dialog, "provider_row"));
  GtkWidget *help = child (dialog, "provider_help");
  g_autofree char *help_before = NULL;
  graphene_rect_t before, after;

  adw_combo_row_set_selected (provider_row, provider_position (dialog, "Gmail"));
  help_before = g_strdup (gtk_label_get_text (GTK_LABEL (help)));
  spin (100);
  g_assert_true (gtk_widget_compute_bounds (child (dialog, "host_row"), dialog, &before));

  gtk_spin_button_set_value (GTK_SPIN_BUTTON (child (dialog, "port_spin")), 465);
  gtk_editable_set_text (GTK_EDITABLE (child (dialog, "host_row")), "smtp.gmail.com ");
  spin (100);

  provider = g_settings_get_string (settings, "provider");
  g_assert_cmpstr (provider, ==, "gmail");
  g_assert_cmpuint (adw_combo_row_get_selected (provider_row), ==, provider_position (dialog, "Gmail"));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (help)), ==, help_before);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (provider_row)), "Gmail (edited)"));
  g_assert_true (gtk_widget_compute_bounds (child (dialog, "host_row"), dialog, &after));
  g_assert_cmpfloat (before.origin.y, ==, after.origin.y);

  /* Back to the preset's settings: no longer "edited". */
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (child (dialog, "port_spin")), 587);
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (provider_row)), ==, "Fills in the server settings");

  gtk_window_destroy (GTK_WINDOW (dialog));
  reset_account ();
}

/* Escape closes the dialog wherever the focus is, the password field included: typed into,
 * and holding a password from the keyring. Real key presses (XTest, through xdotool), as a
 * person makes them. */
static void
escape_closes_from (const char *row,
                    gboolean    type)
{
  g_autofree char *xdotool = g_find_program_in_path ("xdotool");
  const char *type_argv[] = { xdotool, "type", "--delay", "20", "abc", NULL };
  const char *escape_argv[] = { xdotool, "key", "--clearmodifiers", "Escape", NULL };
  g_autoptr(GtkWidget) dialog = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  dialog = g_object_ref_sink (open_dialog ());
  gtk_widget_grab_focus (child (dialog, row));
  spin (200);
  g_assert_true (gtk_widget_is_ancestor (gtk_root_get_focus (GTK_ROOT (dialog)), child (dialog, row)));

  if (type)
    {
      g_assert_true (g_spawn_sync (NULL, (char **) type_argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error));
      g_assert_no_error (error);
      g_assert_true (g_spawn_check_wait_status (status, NULL));
      WAIT_UNTIL (g_str_has_suffix (gtk_editable_get_text (GTK_EDITABLE (child (dialog, row))), "abc"));
    }

  g_assert_true (g_spawn_sync (NULL, (char **) escape_argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));

  WAIT_UNTIL (!gtk_widget_get_visible (dialog));
  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
test_escape_closes (void)
{
  g_autofree char *xdotool = g_find_program_in_path ("xdotool");

  if (xdotool == NULL)
    {
      g_test_skip ("needs xdotool");
      return;
    }

  escape_closes_from ("host_row", TRUE);
  escape_closes_from ("password_row", TRUE);

  if (g_getenv ("DISPATCH_TEST_KEYRING") != NULL)
    {
      GtkWidget *dialog;

      configure_signed_in_account (2525);
      store_password ("127.0.0.1", 2525, "ann@example.org", "fr0m-Keyring");
      dialog = open_dialog ();
      WAIT_UNTIL (g_str_equal (gtk_editable_get_text (GTK_EDITABLE (child (dialog, "password_row"))), "fr0m-Keyring"));
      gtk_window_destroy (GTK_WINDOW (dialog));
      escape_closes_from ("password_row", FALSE);
    }

  reset_account ();
}

/* A newcomer's window says what to do; a local test server is offered only when one answers. */
static void
test_first_start (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new ("send 220 local.test ESMTP ready\n");
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  DispatchSetupBanner *banner;
  DispatchWindow *window;
  GtkWidget *setup_button;
  GtkWidget *local_button;
  guint16 port;

  reset_account ();
  g_assert_false (dispatch_settings_is_account_set_up (settings));

  window = open_window ();
  banner = DISPATCH_SETUP_BANNER (find_descendant (GTK_WIDGET (window), DISPATCH_TYPE_SETUP_BANNER));
  g_assert_nonnull (banner);
  g_assert_true (dispatch_setup_banner_get_revealed (banner));
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (banner)));

  setup_button = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (banner), DISPATCH_TYPE_SETUP_BANNER, "setup_button"));
  local_button = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (banner), DISPATCH_TYPE_SETUP_BANNER, "local_button"));
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (setup_button)), ==, "_Set Up an Account");
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (setup_button)), ==, "app.preferences");

  /* Nobody answers there: nothing is offered that is not there. */
  dispatch_setup_banner_set_local_server (banner, "127.0.0.1", closed_port ());
  spin (300);
  g_assert_false (dispatch_setup_banner_get_offers_local (banner));
  g_assert_false (gtk_widget_get_visible (local_button));

  /* Not on this computer: not even looked for. */
  dispatch_setup_banner_set_local_server (banner, "192.0.2.1", 8025);
  g_assert_false (dispatch_setup_banner_get_offers_local (banner));

  /* A server that greets with 220 on the loopback is offered. */
  port = dispatch_test_server_start (server);
  dispatch_setup_banner_set_local_server (banner, "127.0.0.1", port);
  WAIT_UNTIL (dispatch_setup_banner_get_offers_local (banner));
  g_assert_true (gtk_widget_get_visible (local_button));
  g_assert_true (dispatch_test_server_finish (server, &error));
  g_assert_no_error (error);

  spin (300);
  save_screenshot (GTK_WIDGET (window), "first-start.png");

  g_assert_true (gtk_widget_activate_action (local_button, "setup.use-local-server", NULL));
  g_assert_true (dispatch_settings_is_account_set_up (settings));
  host = g_settings_get_string (settings, "host");
  g_assert_cmpstr (host, ==, "127.0.0.1");
  g_assert_cmpuint (g_settings_get_uint (settings, "port"), ==, port);
  WAIT_UNTIL (!gtk_widget_get_visible (GTK_WIDGET (banner)));

  /* Back to a newcomer's settings, then an account set up in the dialog. */
  reset_account ();
  WAIT_UNTIL (gtk_widget_get_visible (GTK_WIDGET (banner)));
  {
    GtkWidget *dialog = open_dialog ();

    adw_combo_row_set_selected (ADW_COMBO_ROW (child (dialog, "provider_row")), provider_position (dialog, "Gmail"));
    gtk_window_destroy (GTK_WINDOW (dialog));
  }
  WAIT_UNTIL (!gtk_widget_get_visible (GTK_WIDGET (banner)));
  g_assert_false (dispatch_setup_banner_get_revealed (banner));

  close_window (window);
  reset_account ();
}

/* The CA file in use is shown, and can be set back to the system's authorities. */
static void
test_ca_file_row (void)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  g_autofree char *ca = dispatch_test_file ("ca.pem");
  GtkWidget *dialog;
  AdwActionRow *row;

  g_settings_set_string (settings, "ca-file", ca);
  dialog = open_dialog ();
  row = ADW_ACTION_ROW (child (dialog, "ca_file_row"));
  g_assert_true (g_str_has_suffix (adw_action_row_get_subtitle (row), "ca.pem"));
  g_assert_true (gtk_widget_get_visible (child (dialog, "ca_file_clear_button")));

  g_assert_true (gtk_widget_activate_action (dialog, "account.clear-ca-file", NULL));
  g_clear_pointer (&ca, g_free);
  ca = g_settings_get_string (settings, "ca-file");
  g_assert_cmpstr (ca, ==, "");
  g_assert_cmpstr (adw_action_row_get_subtitle (row), ==, "The system’s trusted authorities");
  g_assert_false (gtk_widget_get_visible (child (dialog, "ca_file_clear_button")));

  gtk_window_destroy (GTK_WINDOW (dialog));
  reset_account ();
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *home = g_dir_make_tmp ("dispatch-test-account-XXXXXX", NULL);

  g_setenv ("XDG_DATA_HOME", home, TRUE);
  g_setenv ("XDG_CACHE_HOME", home, TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  /* As in test-window: GTK 4.8 warns when a window closes while a scrolled view (the test's
   * transcript, following its last line) is still animating. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  dispatch_engine_init ();

  g_test_add_func ("/account-dialog/defaults", test_defaults);
  g_test_add_func ("/account-dialog/presets", test_presets);
  g_test_add_func ("/account-dialog/test-connection", test_connection);
  g_test_add_func ("/account-dialog/test-connection-refused", test_connection_refused);
  g_test_add_func ("/account-dialog/password", test_password);
  g_test_add_func ("/account-dialog/port-change-keeps-password", test_port_change_keeps_password);
  g_test_add_func ("/account-dialog/missing-password-asked", test_missing_password_asked);
  g_test_add_func ("/account-dialog/missing-password-cancelled", test_missing_password_cancelled);
  g_test_add_func ("/account-dialog/test-connection-new-server", test_connection_new_server);
  g_test_add_func ("/account-dialog/test-connection-untrusted-certificate", test_connection_untrusted_certificate);
  g_test_add_func ("/account-dialog/edited-preset", test_edited_preset);
  g_test_add_func ("/account-dialog/escape-closes", test_escape_closes);
  g_test_add_func ("/account-dialog/first-start", test_first_start);
  g_test_add_func ("/account-dialog/ca-file", test_ca_file_row);

  return g_test_run ();
}
