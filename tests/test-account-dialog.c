/* test-account-dialog.c — provider presets, settings and "Test connection", under Xvfb.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <adwaita.h>

#include "dispatch-account-dialog.h"
#include "dispatch-engine.h"
#include "dispatch-secret.h"
#include "dispatch-settings.h"
#include "dispatch-test-server.h"
#include "dispatch-transcript-view.h"

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

  /* Editing the server by hand makes it a custom account. */
  gtk_editable_set_text (GTK_EDITABLE (child (dialog, "host_row")), "mail.example.org");
  WAIT_UNTIL ((g_free (provider), provider = g_settings_get_string (settings, "provider"),
               g_str_equal (provider, "custom")));
  g_assert_cmpuint (adw_combo_row_get_selected (provider_row), ==, provider_position (dialog, "Other"));

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
  dispatch_engine_init ();

  g_test_add_func ("/account-dialog/defaults", test_defaults);
  g_test_add_func ("/account-dialog/presets", test_presets);
  g_test_add_func ("/account-dialog/test-connection", test_connection);
  g_test_add_func ("/account-dialog/test-connection-refused", test_connection_refused);
  g_test_add_func ("/account-dialog/password", test_password);

  return g_test_run ();
}
