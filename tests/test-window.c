/* test-window.c — the compose window driven in-process under Xvfb against the scripted server.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <adwaita.h>
#include <gmime/gmime.h>
#include <glib/gstdio.h>

#include "dispatch-attachment-row.h"
#include "dispatch-engine.h"
#include "dispatch-secret.h"
#include "dispatch-settings.h"
#include "dispatch-test-server.h"
#include "dispatch-transcript-view.h"
#include "dispatch-window.h"

/* Every wait is bounded, so a broken build fails instead of hanging. */
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
child (DispatchWindow *window,
       const char     *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (window), DISPATCH_TYPE_WINDOW, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static void
set_text (DispatchWindow *window,
          const char     *row,
          const char     *text)
{
  gtk_editable_set_text (GTK_EDITABLE (child (window, row)), text);
}

static void
set_body (DispatchWindow *window,
          const char     *text)
{
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (child (window, "body_view"))), text, -1);
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

/* Is a label with exactly @text shown anywhere under @widget (toasts included)? */
static gboolean
find_label (GtkWidget  *widget,
            const char *text)
{
  if (GTK_IS_LABEL (widget) && gtk_widget_get_mapped (widget) &&
      g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0)
    return TRUE;

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      if (find_label (c, text))
        return TRUE;
    }

  return FALSE;
}

/* All label texts under @widget, joined by newlines. */
static void
collect_labels (GtkWidget *widget,
                GString   *out)
{
  if (GTK_IS_LABEL (widget))
    {
      g_string_append (out, gtk_label_get_text (GTK_LABEL (widget)));
      g_string_append_c (out, '\n');
    }

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    collect_labels (c, out);
}

static char *
result_text (DispatchWindow *window)
{
  GString *out = g_string_new (NULL);

  collect_labels (child (window, "result_card"), out);
  return g_string_free (out, FALSE);
}

static gboolean
send_enabled (DispatchWindow *window)
{
  return gtk_widget_get_sensitive (child (window, "send_button"));
}

static guint
n_attachments (DispatchWindow *window)
{
  g_autoptr(GPtrArray) files = dispatch_window_list_attachments (window);

  return files->len;
}

static DispatchAttachmentRow *
first_attachment_row (DispatchWindow *window)
{
  GtkWidget *list = child (window, "attachments_list");

  for (GtkWidget *c = gtk_widget_get_first_child (list); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      if (DISPATCH_IS_ATTACHMENT_ROW (c))
        return DISPATCH_ATTACHMENT_ROW (c);
    }

  return NULL;
}

static gboolean
draft_exists (void)
{
  g_autofree char *path = dispatch_window_dup_draft_path ();

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
remove_draft (void)
{
  g_autofree char *path = dispatch_window_dup_draft_path ();

  g_remove (path);
}

/* A 320×200 gradient, like a photo someone would attach. */
static GdkTexture *
make_texture (void)
{
  const int width = 320, height = 200;
  g_autofree guchar *pixels = g_malloc (width * height * 4);
  g_autoptr(GBytes) bytes = NULL;

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guchar *p = pixels + (y * width + x) * 4;

        p[0] = 0x1c + x * 0x60 / width;
        p[1] = 0x71 + y * 0x50 / height;
        p[2] = 0xd8 - x * 0x40 / width;
        p[3] = 0xff;
      }

  bytes = g_bytes_new_take (g_steal_pointer (&pixels), width * height * 4);
  return gdk_memory_texture_new (width, height, GDK_MEMORY_R8G8B8A8, bytes, width * 4);
}

static GFile *
make_image_file (const char *name)
{
  g_autoptr(GdkTexture) texture = make_texture ();
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "pictures", NULL);
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_mkdir_with_parents (dir, 0700);
  g_assert_true (gdk_texture_save_to_png (texture, path));

  return g_file_new_for_path (path);
}

static void
configure_account (guint16 port)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();

  g_settings_reset (settings, "pinned-certificates");
  g_settings_set_string (settings, "provider", "custom");
  g_settings_set_string (settings, "host", "127.0.0.1");
  g_settings_set_uint (settings, "port", port);
  g_settings_set_enum (settings, "security", DISPATCH_SMTP_SECURITY_NONE);
  g_settings_set_string (settings, "user", "");
  g_settings_set_uint (settings, "timeout", 10);
  g_settings_set_string (settings, "sender-name", "Ann Example");
  g_settings_set_string (settings, "sender-address", "ann@example.org");
}

static DispatchWindow *
open_window (void)
{
  DispatchWindow *window = dispatch_window_new (NULL);

  gtk_window_set_default_size (GTK_WINDOW (window), 1120, 820);
  gtk_window_present (GTK_WINDOW (window));
  WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)));

  return window;
}

static void
close_window (DispatchWindow *window)
{
  g_autoptr(GtkWidget) ref = g_object_ref (GTK_WIDGET (window));

  gtk_window_close (GTK_WINDOW (window));
  gtk_window_destroy (GTK_WINDOW (window));
  spin (50);
}

static void
fill_form (DispatchWindow *window)
{
  set_text (window, "to_row", "Bob <bob@example.org>");
  set_text (window, "subject_row", "Lab 3: SMTP by hand");
  set_body (window,
            "Hi Bob,\n\n"
            "here is the picture from today’s networking lab: EHLO, STARTTLS, AUTH, DATA.\n\n"
            "Ann\n");
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
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

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
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));

  dir = g_build_filename (builddir ? builddir : ".", "screenshots", NULL);
  g_mkdir_with_parents (dir, 0755);
  path = g_build_filename (dir, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("Screenshot: %s", path);
}

static GtkWidget *
find_action_button (GtkWidget  *widget,
                    const char *action_name)
{
  if (GTK_IS_BUTTON (widget) &&
      g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), action_name) == 0)
    return widget;

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_action_button (c, action_name);

      if (found != NULL)
        return found;
    }

  return NULL;
}

/* While a send is under way the user cannot change the message: the fields are read-only,
 * Cc/Bcc cannot be toggled, attachments cannot be removed. The form is not made insensitive,
 * so it stays readable and looks as it did. (test-accessibility checks that the fields say
 * they are read-only; here GTK_A11Y=none.) */
static void
assert_form_locked (DispatchWindow *window,
                    gboolean        locked)
{
  static const char *const rows[] = { "to_row", "cc_row", "bcc_row", "subject_row" };
  GtkWidget *body = child (window, "body_view");
  DispatchAttachmentRow *attachment = first_attachment_row (window);

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      GtkEditable *row = GTK_EDITABLE (child (window, rows[i]));

      g_assert_cmpint (gtk_editable_get_editable (row), ==, !locked);
    }

  g_assert_cmpint (gtk_text_view_get_editable (GTK_TEXT_VIEW (body)), ==, !locked);
  g_assert_cmpint (gtk_widget_is_sensitive (child (window, "cc_bcc_button")), ==, !locked);
  g_assert_true (gtk_widget_is_sensitive (child (window, "compose_box")));

  if (attachment != NULL)
    {
      GtkWidget *remove = find_action_button (GTK_WIDGET (attachment), "attachment.remove");

      g_assert_nonnull (remove);
      g_assert_cmpint (gtk_widget_is_sensitive (remove), ==, !locked);
    }
}

static void
record_phase (GtkLabel   *label,
              GParamSpec *pspec,
              GPtrArray  *phases)
{
  const char *text = gtk_label_get_text (label);

  if (phases->len == 0 || g_strcmp0 (g_ptr_array_index (phases, phases->len - 1), text) != 0)
    g_ptr_array_add (phases, g_strdup (text));
}

static gboolean
phases_contain_prefix (GPtrArray  *phases,
                       const char *prefix)
{
  for (guint i = 0; i < phases->len; i++)
    {
      if (g_str_has_prefix (g_ptr_array_index (phases, i), prefix))
        return TRUE;
    }

  return FALSE;
}

static void
finish_server (DispatchTestServer *server)
{
  g_autoptr(GError) error = NULL;

  if (!dispatch_test_server_finish (server, &error))
    g_error ("The test server failed: %s", error->message);
}

static void
test_send_success (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 test.example ESMTP ready\n"
    "expect EHLO *\n"
    "send 250-test.example greets you\n"
    "send 250-SIZE 10240000\n"
    "send 250 8BITMIME\n"
    "expect MAIL FROM:<ann@example.org>*\n"
    "send 250 2.1.0 Ok\n"
    "expect RCPT TO:<bob@example.org>\n"
    "send 250 2.1.5 Ok\n"
    "expect DATA\n"
    "send 354 End data with <CR><LF>.<CR><LF>\n"
    "data\n"
    "send 250 2.0.0 Ok: queued as 4XyZ42\n"
    "expect QUIT\n"
    "send 221 2.0.0 Bye\n");
  g_autoptr(GPtrArray) phases = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GFile) image = make_image_file ("lab-network.png");
  g_autofree char *transcript = NULL;
  g_autofree char *result = NULL;
  g_autofree char *message = NULL;
  g_autoptr(GBytes) received = NULL;
  DispatchWindow *window;
  DispatchAttachmentRow *row;

  remove_draft ();
  configure_account (dispatch_test_server_start (server));
  window = open_window ();

  g_assert_false (send_enabled (window));
  fill_form (window);
  dispatch_window_add_attachment (window, image);
  g_assert_true (send_enabled (window));

  row = first_attachment_row (window);
  g_assert_nonnull (row);
  WAIT_UNTIL (dispatch_attachment_row_get_thumbnail (row) != NULL);
  g_assert_cmpuint (dispatch_attachment_row_get_size (row), >, 0);
  WAIT_UNTIL (draft_exists ());

  g_signal_connect (child (window, "phase_label"), "notify::label", G_CALLBACK (record_phase), phases);
  assert_form_locked (window, FALSE);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
  g_assert_true (dispatch_window_is_sending (window));
  g_assert_false (send_enabled (window));
  assert_form_locked (window, TRUE);

  /* Removing the attachment is refused as well when asked for through the action. */
  gtk_widget_activate_action (GTK_WIDGET (row), "attachment.remove", NULL);
  g_assert_cmpuint (n_attachments (window), ==, 1);

  WAIT_UNTIL (!dispatch_window_is_sending (window));
  finish_server (server);
  assert_form_locked (window, FALSE);

  /* What the user saw on the way */
  g_assert_cmpstr (g_ptr_array_index (phases, 0), ==, "Connecting…");
  g_assert_true (phases_contain_prefix (phases, "Sending 100 %…"));
  g_assert_cmpstr (g_ptr_array_index (phases, phases->len - 1), ==, "Sent");
  g_assert_cmpfloat (gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (child (window, "progress_bar"))), ==, 1.0);

  transcript = dispatch_transcript_view_dup_text (DISPATCH_TRANSCRIPT_VIEW (child (window, "transcript_view")));
  g_assert_nonnull (strstr (transcript, "S: 220 test.example ESMTP ready\n"));
  g_assert_nonnull (strstr (transcript, "C: EHLO "));
  g_assert_nonnull (strstr (transcript, "C: MAIL FROM:<ann@example.org>"));
  g_assert_nonnull (strstr (transcript, "C: RCPT TO:<bob@example.org>\n"));
  g_assert_nonnull (strstr (transcript, "S: 250 2.0.0 Ok: queued as 4XyZ42\n"));

  /* The result */
  g_assert_true (gtk_revealer_get_reveal_child (GTK_REVEALER (child (window, "result_revealer"))));
  result = result_text (window);
  g_assert_nonnull (strstr (result, "Message sent\n"));
  g_assert_nonnull (strstr (result, "250 2.0.0 Ok: queued as 4XyZ42"));
  g_assert_nonnull (strstr (result, "4XyZ42\n"));
  g_assert_nonnull (strstr (result, "bob@example.org"));
  WAIT_UNTIL (find_label (GTK_WIDGET (window), "Message sent") &&
              find_label (child (window, "toast_overlay"), "Message sent"));

  /* The draft is gone; the form stays for another look. */
  WAIT_UNTIL (!draft_exists ());
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (window, "to_row"))), ==, "Bob <bob@example.org>");

  /* What the server got */
  g_assert_cmpuint (dispatch_test_server_get_n_messages (server), ==, 1);
  received = dispatch_test_server_get_message (server, 0);
  message = g_strndup (g_bytes_get_data (received, NULL), g_bytes_get_size (received));
  g_assert_nonnull (strstr (message, "Subject: Lab 3: SMTP by hand"));
  g_assert_nonnull (strstr (message, "image/png"));
  g_assert_nonnull (strstr (message, "lab-network.png"));

  spin (400);
  save_screenshot (GTK_WIDGET (window), "window-sent.png");

  close_window (window);
}

static void
test_server_refuses (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 test.example ESMTP\n"
    "expect EHLO *\n"
    "send 250 test.example\n"
    "expect MAIL FROM:<ann@example.org>*\n"
    "send 250 Ok\n"
    "expect RCPT TO:<bob@example.org>\n"
    "send 250 Ok\n"
    "expect DATA\n"
    "send 354 Go ahead\n"
    "data\n"
    "send 554 5.7.1 Message rejected: looks like spam\n"
    "expect QUIT\n"
    "send 221 Bye\n");
  g_autoptr(GFile) image = make_image_file ("refused.png");
  g_autofree char *result = NULL;
  g_autofree char *body = NULL;
  DispatchWindow *window;
  GtkTextBuffer *buffer;
  GtkTextIter start, end;

  remove_draft ();
  configure_account (dispatch_test_server_start (server));
  window = open_window ();
  fill_form (window);
  dispatch_window_add_attachment (window, image);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
  WAIT_UNTIL (!dispatch_window_is_sending (window));
  finish_server (server);

  result = result_text (window);
  g_assert_nonnull (strstr (result, "The server refused the message\n"));
  g_assert_nonnull (strstr (result, "554 5.7.1 Message rejected: looks like spam"));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (child (window, "phase_label"))), ==, "Not sent");

  /* Nothing the user typed is lost, and Send is ready for another try. */
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (window, "to_row"))), ==, "Bob <bob@example.org>");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (window, "subject_row"))), ==, "Lab 3: SMTP by hand");
  buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (child (window, "body_view")));
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  body = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  g_assert_true (g_str_has_prefix (body, "Hi Bob,"));
  g_assert_cmpuint (n_attachments (window), ==, 1);
  g_assert_true (send_enabled (window));
  WAIT_UNTIL (draft_exists ());

  spin (300);
  save_screenshot (GTK_WIDGET (window), "window-refused.png");

  close_window (window);
}

static void
test_partial_success (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 test.example ESMTP\n"
    "expect EHLO *\n"
    "send 250 test.example\n"
    "expect MAIL FROM:<ann@example.org>*\n"
    "send 250 Ok\n"
    "expect RCPT TO:<bob@example.org>\n"
    "send 250 Ok\n"
    "expect RCPT TO:<nobody@example.org>\n"
    "send 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown\n"
    "expect DATA\n"
    "send 354 Go ahead\n"
    "data\n"
    "send 250 2.0.0 Ok: queued as PART1\n"
    "expect QUIT\n"
    "send 221 Bye\n");
  g_autofree char *result = NULL;
  DispatchWindow *window;

  remove_draft ();
  configure_account (dispatch_test_server_start (server));
  window = open_window ();
  fill_form (window);
  set_text (window, "to_row", "bob@example.org, nobody@example.org");

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
  WAIT_UNTIL (!dispatch_window_is_sending (window));
  finish_server (server);

  result = result_text (window);
  g_assert_nonnull (strstr (result, "Message sent, but not to everyone\n"));
  g_assert_nonnull (strstr (result, "nobody@example.org — 550 5.1.1"));

  close_window (window);
}

static void
test_cancel (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 slow.example ESMTP\n"
    "expect EHLO *\n"
    "stall\n");
  g_autoptr(GError) error = NULL;
  DispatchTranscriptView *transcript;
  DispatchWindow *window;
  gint64 cancelled_at;

  remove_draft ();
  configure_account (dispatch_test_server_start (server));
  window = open_window ();
  fill_form (window);
  transcript = DISPATCH_TRANSCRIPT_VIEW (child (window, "transcript_view"));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
  WAIT_UNTIL (dispatch_transcript_view_get_n_lines (transcript) >= 2);
  g_assert_true (dispatch_window_is_sending (window));
  g_assert_true (gtk_revealer_get_reveal_child (GTK_REVEALER (child (window, "status_revealer"))));
  assert_form_locked (window, TRUE);

  save_screenshot (GTK_WIDGET (window), "window-sending.png");

  /* Cancel takes effect at once, without waiting for the server's timeout. */
  cancelled_at = g_get_monotonic_time ();
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.cancel", NULL));
  g_assert_false (dispatch_window_is_sending (window));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (child (window, "phase_label"))), ==, "Cancelled");
  g_assert_true (send_enabled (window));
  g_assert_false (gtk_revealer_get_reveal_child (GTK_REVEALER (child (window, "result_revealer"))));
  assert_form_locked (window, FALSE);

  /* …and the worker lets go of the connection soon after. */
  dispatch_test_server_finish (server, &error);
  g_assert_cmpint (g_get_monotonic_time () - cancelled_at, <, 5 * G_USEC_PER_SEC);

  close_window (window);
}

static void
test_invalid_address (void)
{
  DispatchWindow *window;
  GtkWidget *to_error;

  remove_draft ();
  configure_account (2525);
  window = open_window ();
  to_error = child (window, "to_error");

  set_text (window, "subject_row", "Hello");
  set_text (window, "to_row", "bob");
  g_assert_false (send_enabled (window));
  WAIT_UNTIL (gtk_widget_get_visible (to_error));
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (to_error)), "needs an @"));
  g_assert_true (gtk_widget_has_css_class (child (window, "to_row"), "error"));

  set_text (window, "to_row", "bob@example.org, carol@");
  g_assert_false (send_enabled (window));
  WAIT_UNTIL (strstr (gtk_label_get_text (GTK_LABEL (to_error)), "carol@") != NULL);

  set_text (window, "to_row", "bob@example.org");
  g_assert_true (send_enabled (window));
  g_assert_false (gtk_widget_get_visible (to_error));
  g_assert_false (gtk_widget_has_css_class (child (window, "to_row"), "error"));

  /* Cc is checked too, and a bad Cc blocks sending. */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (child (window, "cc_bcc_button")), TRUE);
  set_text (window, "cc_row", "carol at example.org");
  g_assert_false (send_enabled (window));
  WAIT_UNTIL (gtk_widget_get_visible (child (window, "cc_error")));

  spin (300);
  save_screenshot (GTK_WIDGET (window), "window-invalid-address.png");

  close_window (window);
}

static void
test_paste_image (void)
{
  g_autoptr(GdkTexture) texture = make_texture ();
  g_autofree char *cache_dir = g_build_filename (g_get_user_cache_dir (), "dispatch", NULL);
  g_autofree char *path = NULL;
  DispatchAttachmentRow *row;
  DispatchWindow *window;
  GFile *file;

  remove_draft ();
  configure_account (2525);
  window = open_window ();

  gdk_clipboard_set_texture (gtk_widget_get_clipboard (GTK_WIDGET (window)), texture);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.paste-image", NULL));
  WAIT_UNTIL (n_attachments (window) == 1);

  row = first_attachment_row (window);
  file = dispatch_attachment_row_get_file (row);
  path = g_file_get_path (file);
  g_assert_true (g_str_has_prefix (path, cache_dir));
  g_assert_true (g_str_has_suffix (path, ".png"));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  WAIT_UNTIL (dispatch_attachment_row_get_thumbnail (row) != NULL);

  /* Removing it takes it off the list. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "attachment.remove", NULL));
  g_assert_cmpuint (n_attachments (window), ==, 0);

  close_window (window);
}

static void
test_drop_files (void)
{
  g_autoptr(GFile) one = make_image_file ("dropped-1.png");
  g_autoptr(GFile) two = make_image_file ("dropped-2.png");
  g_auto(GValue) value = G_VALUE_INIT;
  GtkDropTarget *target = NULL;
  GSList *files = NULL;
  DispatchWindow *window;
  GListModel *controllers;
  gboolean accepted = FALSE;

  remove_draft ();
  configure_account (2525);
  window = open_window ();

  controllers = gtk_widget_observe_controllers (child (window, "compose_scroller"));
  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_DROP_TARGET (controller))
        target = GTK_DROP_TARGET (controller);
    }
  g_object_unref (controllers);
  g_assert_nonnull (target);

  files = g_slist_append (files, one);
  files = g_slist_append (files, two);
  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_set_boxed (&value, files);
  g_slist_free (files);

  g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &accepted);
  g_assert_true (accepted);
  g_assert_cmpuint (n_attachments (window), ==, 2);

  /* The same file twice is one attachment. */
  dispatch_window_add_attachment (window, one);
  g_assert_cmpuint (n_attachments (window), ==, 2);

  /* A folder is not an attachment. */
  {
    g_autoptr(GFile) folder = g_file_get_parent (one);

    dispatch_window_add_attachment (window, folder);
    g_assert_cmpuint (n_attachments (window), ==, 2);
  }

  close_window (window);
}

static void
test_draft_restored (void)
{
  g_autoptr(GFile) image = make_image_file ("draft.png");
  g_autoptr(GPtrArray) files = NULL;
  DispatchWindow *window;

  remove_draft ();
  configure_account (2525);
  window = open_window ();
  fill_form (window);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (child (window, "cc_bcc_button")), TRUE);
  set_text (window, "bcc_row", "archive@example.org");
  dispatch_window_add_attachment (window, image);

  /* Saved a moment after typing stops… */
  WAIT_UNTIL (draft_exists ());
  close_window (window);

  /* …and back in the next window. */
  window = open_window ();
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (window, "to_row"))), ==, "Bob <bob@example.org>");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (window, "subject_row"))), ==, "Lab 3: SMTP by hand");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (window, "bcc_row"))), ==, "archive@example.org");
  g_assert_true (gtk_widget_get_visible (child (window, "bcc_row")));
  files = dispatch_window_list_attachments (window);
  g_assert_cmpuint (files->len, ==, 1);
  g_assert_true (g_file_equal (g_ptr_array_index (files, 0), image));

  /* New Message empties the form and the draft; Undo brings it back. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.new-message", NULL));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (window, "to_row"))), ==, "");
  g_assert_cmpuint (n_attachments (window), ==, 0);
  WAIT_UNTIL (!draft_exists ());
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.undo-discard", NULL));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (window, "subject_row"))), ==, "Lab 3: SMTP by hand");
  g_assert_cmpuint (n_attachments (window), ==, 1);
  WAIT_UNTIL (draft_exists ());

  close_window (window);
  remove_draft ();
}

static void
test_prefill (void)
{
  g_autoptr(GFile) image = make_image_file ("prefill.png");
  DispatchWindow *window;

  remove_draft ();
  configure_account (2525);
  window = open_window ();

  dispatch_window_prefill (window, "bob@example.org", "carol@example.org", NULL, "From a link", "Line one\nLine two");
  dispatch_window_add_attachment (window, image);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (window, "cc_row"))), ==, "carol@example.org");
  g_assert_true (gtk_widget_get_visible (child (window, "cc_row")));
  g_assert_true (send_enabled (window));
  g_assert_cmpuint (n_attachments (window), ==, 1);

  close_window (window);
  remove_draft ();
}

static void
password_stored_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (dispatch_secret_store_finish (result, &error));
  g_assert_no_error (error);
  *done = TRUE;
}

/* Stores the test password for ann@example.org at 127.0.0.1:@port and sets the account to sign
 * in with it (over plain TCP: the scripted server has no TLS here). */
static void
configure_account_with_password (guint16 port)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  gboolean stored = FALSE;

  configure_account (port);
  g_settings_set_string (settings, "user", "ann@example.org");
  g_settings_set_boolean (settings, "allow-plaintext-auth", TRUE);
  dispatch_secret_store_async ("127.0.0.1", port, "ann@example.org", "s3cret-Pa55word!",
                               NULL, password_stored_cb, &stored);
  WAIT_UNTIL (stored);
}

static void
reset_account_user (void)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();

  g_settings_reset (settings, "user");
  g_settings_reset (settings, "allow-plaintext-auth");
}

static void
test_send_with_password (void)
{
  g_autoptr(DispatchTestServer) server = NULL;
  g_autofree char *transcript = NULL;
  g_autofree char *result = NULL;
  g_autofree char *received = NULL;
  g_autofree char *encoded = NULL;
  g_autoptr(GBytes) bytes = NULL;
  DispatchWindow *window;
  guint16 port;

  if (g_getenv ("DISPATCH_TEST_KEYRING") == NULL)
    {
      g_test_skip ("needs a Secret Service (run through run-with-keyring.sh)");
      return;
    }

  server = dispatch_test_server_new (
    "send 220 test.example ESMTP\n"
    "expect EHLO *\n"
    "send 250-test.example\n"
    "send 250 AUTH PLAIN LOGIN\n"
    "expect AUTH PLAIN *\n"
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
    "send 221 Bye\n");

  remove_draft ();
  port = dispatch_test_server_start (server);
  configure_account_with_password (port);

  window = open_window ();
  fill_form (window);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
  WAIT_UNTIL (!dispatch_window_is_sending (window));
  finish_server (server);

  result = result_text (window);
  g_assert_nonnull (strstr (result, "Message sent\n"));
  g_assert_nonnull (strstr (result, "PLAIN"));

  /* The server got the password; the transcript did not. */
  bytes = dispatch_test_server_get_received (server);
  received = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  encoded = g_base64_encode ((const guchar *) "\0ann@example.org\0s3cret-Pa55word!", 33);
  g_assert_nonnull (strstr (received, encoded));
  transcript = dispatch_transcript_view_dup_text (DISPATCH_TRANSCRIPT_VIEW (child (window, "transcript_view")));
  g_assert_nonnull (strstr (transcript, "C: AUTH PLAIN " DISPATCH_SMTP_REDACTED));
  g_assert_null (strstr (transcript, encoded));
  g_assert_null (strstr (transcript, "s3cret"));

  close_window (window);
  reset_account_user ();
}

/* The sign-in went out in the same flight as the envelope (RFC 4954 §4) and was refused by a
 * server that would take the envelope from anyone: the message never leaves, and the window
 * shows the refused sign-in, as it would had each command waited for its reply. */
static void
test_sent_without_sign_in (void)
{
  g_autoptr(DispatchTestServer) server = NULL;
  g_autofree char *result = NULL;
  DispatchWindow *window;

  if (g_getenv ("DISPATCH_TEST_KEYRING") == NULL)
    {
      g_test_skip ("needs a Secret Service (run through run-with-keyring.sh)");
      return;
    }

  server = dispatch_test_server_new (
    "send 220 test.example ESMTP\n"
    "expect EHLO *\n"
    "send 250-test.example\n"
    "send 250-PIPELINING\n"
    "send 250-CHUNKING\n"
    "send 250 AUTH PLAIN\n"
    "expect AUTH PLAIN *\n"
    "send 535 5.7.8 Error: authentication failed\n"
    "expect! MAIL FROM:<ann@example.org>*\n"
    "send 250 Ok\n"
    "expect! RCPT TO:<bob@example.org>\n"
    "send 250 Ok\n"
    "expect QUIT\n"
    "send 221 Bye\n");

  remove_draft ();
  configure_account_with_password (dispatch_test_server_start (server));
  window = open_window ();
  fill_form (window);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
  WAIT_UNTIL (!dispatch_window_is_sending (window));
  finish_server (server);

  result = result_text (window);
  g_assert_null (strstr (result, "Message sent"));
  g_assert_nonnull (strstr (result, "535 5.7.8 Error: authentication failed"));
  g_assert_cmpuint (dispatch_test_server_get_n_messages (server), ==, 0);

  close_window (window);
  reset_account_user ();
}

static void
clipboard_text_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  char **text = user_data;

  *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (object), result, NULL);
}

static void
test_transcript (void)
{
  DispatchTranscriptView *view = DISPATCH_TRANSCRIPT_VIEW (dispatch_transcript_view_new ());
  GtkWidget *window = gtk_window_new ();
  g_autofree char *text = NULL;
  g_autofree char *copied = NULL;

  gtk_window_set_child (GTK_WINDOW (window), GTK_WIDGET (view));
  gtk_window_present (GTK_WINDOW (window));

  g_assert_cmpuint (dispatch_transcript_view_get_n_lines (view), ==, 0);
  dispatch_transcript_view_append (view, DISPATCH_SMTP_DIRECTION_INFO, "Connected to 127.0.0.1");
  dispatch_transcript_view_append (view, DISPATCH_SMTP_DIRECTION_SERVER, "220 mx.example ESMTP");
  dispatch_transcript_view_append (view, DISPATCH_SMTP_DIRECTION_CLIENT, "AUTH PLAIN " DISPATCH_SMTP_REDACTED);
  dispatch_transcript_view_append (view, DISPATCH_SMTP_DIRECTION_SERVER, "bad \xff byte");
  g_assert_cmpuint (dispatch_transcript_view_get_n_lines (view), ==, 4);

  text = dispatch_transcript_view_dup_text (view);
  g_assert_true (g_str_has_prefix (text, "* Connected to 127.0.0.1\n"
                                         "S: 220 mx.example ESMTP\n"
                                         "C: AUTH PLAIN <redacted>\n"
                                         "S: bad "));
  g_assert_true (g_utf8_validate (text, -1, NULL));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "transcript.copy", NULL));
  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (GTK_WIDGET (view)), NULL, clipboard_text_cb, &copied);
  WAIT_UNTIL (copied != NULL);
  g_assert_cmpstr (copied, ==, text);

  dispatch_transcript_view_clear (view);
  g_assert_cmpuint (dispatch_transcript_view_get_n_lines (view), ==, 0);

  gtk_window_destroy (GTK_WINDOW (window));
}

static GtkWindow *
find_toplevel (const char *title)
{
  g_autoptr(GListModel) toplevels = g_object_ref (gtk_window_get_toplevels ());

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (g_strcmp0 (gtk_window_get_title (window), title) == 0)
        return window;
    }

  return NULL;
}

static char *
text_under (GtkWidget *widget)
{
  if (GTK_IS_TEXT_VIEW (widget))
    {
      GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (widget));
      GtkTextIter start, end;

      gtk_text_buffer_get_bounds (buffer, &start, &end);
      return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
    }

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      char *text = text_under (c);

      if (text != NULL)
        return text;
    }

  return NULL;
}

static void
test_view_source (void)
{
  g_autoptr(GFile) image = make_image_file ("source.png");
  g_autofree char *source = NULL;
  DispatchWindow *window;
  GtkWindow *source_window;

  remove_draft ();
  configure_account (2525);
  window = open_window ();
  fill_form (window);
  dispatch_window_add_attachment (window, image);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.view-source", NULL));
  WAIT_UNTIL ((source_window = find_toplevel ("Message Source")) != NULL);
  source = text_under (GTK_WIDGET (source_window));
  g_assert_nonnull (source);
  g_assert_nonnull (strstr (source, "From: Ann Example <ann@example.org>"));
  g_assert_nonnull (strstr (source, "Subject: Lab 3: SMTP by hand"));
  g_assert_nonnull (strstr (source, "source.png"));

  gtk_window_destroy (source_window);
  close_window (window);
  remove_draft ();
}

/* "Save as .eml…": the file is the message, parsed back whole, attachment included. */
static void
test_save_eml (void)
{
  g_autoptr(GFile) image = make_image_file ("saved.png");
  g_autofree char *dir = g_dir_make_tmp ("dispatch-eml-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "lab.eml", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autofree char *contents = NULL;
  g_autofree char *image_path = g_file_get_path (image);
  g_autofree char *image_bytes = NULL;
  gsize image_len = 0;
  /* GMime 3.2 declares no autoptr cleanups. */
  GMimeStream *stream;
  GMimeParser *parser;
  GMimeMessage *message;
  GMimeStream *decoded;
  GMimeObject *mixed;
  GMimeObject *part;
  GByteArray *decoded_bytes;
  DispatchWindow *window;
  gsize len = 0;

  remove_draft ();
  configure_account (2525);
  window = open_window ();
  fill_form (window);
  dispatch_window_add_attachment (window, image);

  dispatch_window_save_message (window, file);
  WAIT_UNTIL (find_label (GTK_WIDGET (window), "Saved as “lab.eml”"));

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_null (strstr (contents, "\r\n..")); /* no dot-stuffing in a file */
  stream = g_mime_stream_mem_new_with_buffer (contents, len);
  parser = g_mime_parser_new_with_stream (stream);
  message = g_mime_parser_construct_message (parser, NULL);
  g_assert_nonnull (message);
  g_assert_cmpstr (g_mime_message_get_subject (message), ==, "Lab 3: SMTP by hand");

  g_assert_true (g_file_get_contents (image_path, &image_bytes, &image_len, NULL));
  mixed = g_mime_message_get_mime_part (message);
  g_assert_true (GMIME_IS_MULTIPART (mixed));
  g_assert_cmpint (g_mime_multipart_get_count (GMIME_MULTIPART (mixed)), ==, 2);
  part = g_mime_multipart_get_part (GMIME_MULTIPART (mixed), 1);
  g_assert_true (GMIME_IS_PART (part));
  g_assert_cmpstr (g_mime_part_get_filename (GMIME_PART (part)), ==, "saved.png");
  decoded = g_mime_stream_mem_new ();
  g_mime_data_wrapper_write_to_stream (g_mime_part_get_content (GMIME_PART (part)), decoded);
  decoded_bytes = g_mime_stream_mem_get_byte_array (GMIME_STREAM_MEM (decoded));
  g_assert_cmpmem (decoded_bytes->data, decoded_bytes->len, image_bytes, image_len);

  g_object_unref (decoded);
  g_object_unref (message);
  g_object_unref (parser);
  g_object_unref (stream);
  close_window (window);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_help_overlay (void)
{
  g_autoptr(GtkBuilder) builder = gtk_builder_new_from_resource ("/io/github/dispatchmail/Dispatch/gtk/help-overlay.ui");
  GObject *overlay = gtk_builder_get_object (builder, "help_overlay");

  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (overlay));
  gtk_window_destroy (GTK_WINDOW (overlay));
}

static AdwMessageDialog *
find_message_dialog (void)
{
  g_autoptr(GListModel) toplevels = g_object_ref (gtk_window_get_toplevels ());

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return ADW_MESSAGE_DIALOG (window);
    }

  return NULL;
}

static void
test_untrusted_certificate (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new ("tls\n");
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  g_autoptr(GVariant) pins = NULL;
  g_autofree char *key = NULL;
  g_autofree char *pin = NULL;
  g_autofree char *result = NULL;
  AdwMessageDialog *dialog;
  DispatchWindow *window;
  guint16 port;

  remove_draft ();
  port = dispatch_test_server_start (server);
  configure_account (port);
  g_settings_set_enum (settings, "security", DISPATCH_SMTP_SECURITY_TLS);
  window = open_window ();
  fill_form (window);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
  WAIT_UNTIL (!dispatch_window_is_sending (window));
  dispatch_test_server_finish (server, NULL);

  result = result_text (window);
  g_assert_nonnull (strstr (result, "The server’s certificate is not trusted\n"));

  WAIT_UNTIL ((dialog = find_message_dialog ()) != NULL);
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Untrusted Certificate");
  key = g_strdup_printf ("127.0.0.1:%u", port);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), key));

  spin (200);
  save_screenshot (GTK_WIDGET (dialog), "certificate-dialog.png");

  /* Trusting pins the certificate for this server and sends again. */
  adw_message_dialog_response (dialog, "trust");
  pin = dispatch_settings_dup_pin (settings, "127.0.0.1", port);
  g_assert_nonnull (pin);
  g_assert_cmpuint (strlen (pin), >=, 64);
  g_assert_true (dispatch_window_is_sending (window));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.cancel", NULL));

  close_window (window);
  remove_draft ();
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *home = g_dir_make_tmp ("dispatch-test-window-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (home, "data", NULL);
  g_autofree char *cache = g_build_filename (home, "cache", NULL);
  g_autofree char *config = g_build_filename (home, "config", NULL);
  g_autoptr(GtkCssProvider) css = NULL;

  /* Drafts and pasted images go to a directory of our own, never the user's. */
  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  dispatch_engine_init ();

  /* No AdwApplication here to load the stylesheet, so the screenshots get it by hand. */
  css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (css, "/io/github/dispatchmail/Dispatch/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  g_test_add_func ("/window/send-success", test_send_success);
  g_test_add_func ("/window/server-refuses", test_server_refuses);
  g_test_add_func ("/window/partial-success", test_partial_success);
  g_test_add_func ("/window/cancel", test_cancel);
  g_test_add_func ("/window/invalid-address", test_invalid_address);
  g_test_add_func ("/window/paste-image", test_paste_image);
  g_test_add_func ("/window/drop-files", test_drop_files);
  g_test_add_func ("/window/draft-restored", test_draft_restored);
  g_test_add_func ("/window/prefill", test_prefill);
  g_test_add_func ("/window/untrusted-certificate", test_untrusted_certificate);
  g_test_add_func ("/window/view-source", test_view_source);
  g_test_add_func ("/window/save-eml", test_save_eml);
  g_test_add_func ("/window/send-with-password", test_send_with_password);
  g_test_add_func ("/window/sent-without-sign-in", test_sent_without_sign_in);
  g_test_add_func ("/transcript/lines", test_transcript);
  g_test_add_func ("/app/help-overlay", test_help_overlay);

  return g_test_run ();
}
