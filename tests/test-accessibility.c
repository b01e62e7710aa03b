/* test-accessibility.c — every control has a name and is reached by Tab; every accelerator is listed.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Walks the main window, the account dialog and the shortcuts window as a screen reader would
 * see them under GTK 4.8: a control's name is its own label plus the labels of the widgets it is
 * labelled by (one level, as GtkATContext computes it), so an icon button whose only "label" is
 * its image has no name at all. GTK_A11Y=test keeps the accessible attributes without AT-SPI.
 */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>

#include "dispatch-account-dialog.h"
#include "dispatch-application.h"
#include "dispatch-engine.h"
#include "dispatch-settings.h"
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

static DispatchApplication *application;

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

static void
collect_widgets (GtkWidget  *widget,
                 GHashTable *widgets)
{
  g_hash_table_insert (widgets, g_strdup_printf ("%p", widget), widget);

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    collect_widgets (c, widgets);
}

/* The widget's own LABEL property, or NULL when it has none. */
static char *
dup_own_label (GtkWidget *widget)
{
  char *label;

  if (!gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL))
    return NULL;

  /* GTK 4.8 has no getter: the check returns the real value when it differs from the one given. */
  label = gtk_test_accessible_check_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL, "");
  return label != NULL ? label : g_strdup ("");
}

/* The widgets @widget is labelled by. The test context prints a relation as
 * "Type<0x…>Type<0x…>"; only pointers to widgets of the same window are resolved. */
static GPtrArray *
list_labelled_by (GtkWidget  *widget,
                  GHashTable *widgets)
{
  GPtrArray *targets = g_ptr_array_new ();
  g_autofree char *printed = NULL;
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) match = NULL;

  if (!gtk_test_accessible_has_relation (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_RELATION_LABELLED_BY))
    return targets;

  printed = gtk_test_accessible_check_relation (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_RELATION_LABELLED_BY, NULL);
  if (printed == NULL)
    return targets;

  regex = g_regex_new ("<(0x[0-9a-f]+)>", 0, 0, NULL);
  g_regex_match (regex, printed, 0, &match);
  while (g_match_info_matches (match))
    {
      g_autofree char *pointer = g_match_info_fetch (match, 1);
      GtkWidget *target = g_hash_table_lookup (widgets, pointer);

      if (target != NULL)
        g_ptr_array_add (targets, target);
      g_match_info_next (match, NULL);
    }

  return targets;
}

static char *
dup_accessible_name (GtkWidget  *widget,
                     GHashTable *widgets)
{
  g_autoptr(GPtrArray) targets = list_labelled_by (widget, widgets);
  g_autofree char *own = dup_own_label (widget);
  GString *name = g_string_new (own);

  for (guint i = 0; i < targets->len; i++)
    {
      g_autofree char *label = dup_own_label (g_ptr_array_index (targets, i));

      if (label != NULL && label[0] != '\0')
        g_string_append_printf (name, "%s%s", name->len > 0 ? " " : "", label);
    }

  return g_strstrip (g_string_free (name, FALSE));
}

static GtkAccessibleRole
get_role (GtkWidget *widget)
{
  return gtk_accessible_get_accessible_role (GTK_ACCESSIBLE (widget));
}

/* Roles a person operates; delegates such as the GtkText inside an entry row have role "none"
 * and are announced through their row instead. */
static gboolean
is_control (GtkWidget *widget)
{
  switch ((int) get_role (widget))
    {
    case GTK_ACCESSIBLE_ROLE_BUTTON:
    case GTK_ACCESSIBLE_ROLE_CHECKBOX:
    case GTK_ACCESSIBLE_ROLE_COMBO_BOX:
    case GTK_ACCESSIBLE_ROLE_LINK:
    case GTK_ACCESSIBLE_ROLE_MENU_ITEM:
    case GTK_ACCESSIBLE_ROLE_MENU_ITEM_CHECKBOX:
    case GTK_ACCESSIBLE_ROLE_MENU_ITEM_RADIO:
    case GTK_ACCESSIBLE_ROLE_RADIO:
    case GTK_ACCESSIBLE_ROLE_SEARCH_BOX:
    case GTK_ACCESSIBLE_ROLE_SLIDER:
    case GTK_ACCESSIBLE_ROLE_SPIN_BUTTON:
    case GTK_ACCESSIBLE_ROLE_SWITCH:
    case GTK_ACCESSIBLE_ROLE_TAB:
    case GTK_ACCESSIBLE_ROLE_TEXT_BOX:
    case GTK_ACCESSIBLE_ROLE_LOG:
      return TRUE;

    default:
      return FALSE;
    }
}

static const char *
get_placeholder (GtkWidget *widget)
{
  if (GTK_IS_ENTRY (widget))
    return gtk_entry_get_placeholder_text (GTK_ENTRY (widget));
  if (GTK_IS_TEXT (widget))
    return gtk_text_get_placeholder_text (GTK_TEXT (widget));
  if (GTK_IS_SEARCH_ENTRY (widget))
    {
      GtkWidget *text = GTK_WIDGET (gtk_editable_get_delegate (GTK_EDITABLE (widget)));

      return GTK_IS_TEXT (text) ? gtk_text_get_placeholder_text (GTK_TEXT (text)) : NULL;
    }

  return NULL;
}

static gboolean
is_icon_only (GtkWidget *widget)
{
  if (GTK_IS_MENU_BUTTON (widget))
    return gtk_menu_button_get_icon_name (GTK_MENU_BUTTON (widget)) != NULL;
  if (GTK_IS_BUTTON (widget))
    return GTK_IS_IMAGE (gtk_button_get_child (GTK_BUTTON (widget)));

  return FALSE;
}

/* "... > AdwHeaderBar > GtkButton#send_button", the last few steps, for the failure message. */
static char *
describe (GtkWidget *widget)
{
  GString *out = g_string_new (NULL);
  guint depth = 0;

  for (GtkWidget *w = widget; w != NULL; w = gtk_widget_get_parent (w), depth++)
    {
      const char *id = gtk_buildable_get_buildable_id (GTK_BUILDABLE (w));
      g_autofree char *item = g_strdup_printf ("%s%s%s", G_OBJECT_TYPE_NAME (w), id ? "#" : "", id ? id : "");

      if (depth == 6)
        {
          g_string_prepend (out, "... > ");
          break;
        }

      g_string_prepend (out, out->len > 0 ? " > " : "");
      g_string_prepend (out, item);
    }

  return g_string_free (out, FALSE);
}

static void
check_widget (GtkWidget  *widget,
              GHashTable *widgets,
              GString    *problems)
{
  if (!gtk_widget_get_mapped (widget))
    return;

  if (is_control (widget))
    {
      g_autofree char *name = dup_accessible_name (widget, widgets);
      const char *placeholder = get_placeholder (widget);

      if (name[0] == '\0' && (placeholder == NULL || placeholder[0] == '\0'))
        {
          g_autofree char *path = describe (widget);

          g_string_append_printf (problems, "  no accessible name: %s\n", path);
        }
    }

  /* Buttons hidden from screen readers (a spin button's −/+, role "none") stand in for keys
   * the control has anyway. The window's own controls carry names from GTK and, as in every
   * GNOME title bar, no tooltips; a menu button's inner button shows the menu button's. */
  if (is_icon_only (widget) && (is_control (widget) || GTK_IS_MENU_BUTTON (widget)) &&
      gtk_widget_get_ancestor (widget, GTK_TYPE_WINDOW_CONTROLS) == NULL &&
      !GTK_IS_MENU_BUTTON (gtk_widget_get_parent (widget)))
    {
      const char *tooltip = gtk_widget_get_tooltip_text (widget);

      if (tooltip == NULL || tooltip[0] == '\0')
        {
          g_autofree char *path = describe (widget);

          g_string_append_printf (problems, "  icon-only button without a tooltip: %s\n", path);
        }
    }

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    check_widget (c, widgets, problems);
}

static void
assert_all_named (GtkWidget *root)
{
  g_autoptr(GHashTable) widgets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GString) problems = g_string_new (NULL);

  collect_widgets (root, widgets);
  check_widget (root, widgets, problems);

  if (problems->len > 0)
    {
      g_test_message ("%s:\n%s", G_OBJECT_TYPE_NAME (root), problems->str);
      g_test_fail ();
    }
}


/* Keyboard: Tab, as GtkWindow does it — move on, and start over from the top at the end. */

static GtkWidget *
tab (GtkWindow *window)
{
  if (!gtk_widget_child_focus (GTK_WIDGET (window), GTK_DIR_TAB_FORWARD))
    {
      gtk_window_set_focus (window, NULL);
      gtk_widget_child_focus (GTK_WIDGET (window), GTK_DIR_TAB_FORWARD);
    }

  return gtk_root_get_focus (GTK_ROOT (window));
}

/* The focus stops of one full round of Tab, from the top. */
static GPtrArray *
tab_cycle (GtkWindow *window)
{
  GPtrArray *stops = g_ptr_array_new ();
  GtkWidget *first;

  gtk_window_set_focus (window, NULL);
  first = tab (window);
  g_assert_nonnull (first);
  g_ptr_array_add (stops, first);

  for (guint i = 0; i < 500; i++)
    {
      GtkWidget *focus = tab (window);

      if (focus == first)
        return stops;

      g_assert_nonnull (focus);
      g_ptr_array_add (stops, focus);
    }

  g_error ("Tab never comes back to %s", G_OBJECT_TYPE_NAME (first));
}

/* Where Tab first stops in @widget or inside it; -1 when it never does. */
static int
stop_index (GPtrArray *stops,
            GtkWidget *widget)
{
  for (guint i = 0; i < stops->len; i++)
    {
      GtkWidget *stop = g_ptr_array_index (stops, i);

      if (stop == widget || gtk_widget_is_ancestor (stop, widget))
        return (int) i;
    }

  return -1;
}

/* Can @widget, or a delegate inside it such as an entry row's text, hold the focus? */
static gboolean
takes_focus (GtkWidget *widget)
{
  if (gtk_widget_get_focusable (widget) && gtk_widget_get_can_focus (widget))
    return TRUE;

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      if (gtk_widget_get_mapped (c) && takes_focus (c))
        return TRUE;
    }

  return FALSE;
}

static void
collect_unreached (GtkWidget *widget,
                   GPtrArray *stops,
                   GString   *problems)
{
  if (!gtk_widget_get_mapped (widget) || !gtk_widget_is_sensitive (widget))
    return;

  if (is_control (widget) && takes_focus (widget) && stop_index (stops, widget) < 0)
    {
      g_autofree char *path = describe (widget);

      g_string_append_printf (problems, "  not reached by Tab: %s\n", path);
      return;
    }

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    collect_unreached (c, stops, problems);
}

static void
assert_all_reached (GtkWindow *window,
                    GPtrArray *stops)
{
  g_autoptr(GString) problems = g_string_new (NULL);

  collect_unreached (GTK_WIDGET (window), stops, problems);

  if (problems->len > 0)
    {
      g_test_message ("%s:\n%s", G_OBJECT_TYPE_NAME (window), problems->str);
      g_test_fail ();
    }
}

static void
print_stops (GPtrArray *stops)
{
  for (guint i = 0; i < stops->len; i++)
    {
      g_autofree char *path = describe (g_ptr_array_index (stops, i));

      g_test_message ("Tab %2u: %s", i, path);
    }
}

static GtkWidget *
window_child (DispatchWindow *window,
              const char     *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (window), DISPATCH_TYPE_WINDOW, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static GFile *
make_attachment (void)
{
  g_autofree char *path = g_build_filename (g_get_user_data_dir (), "notes.txt", NULL);

  g_assert_true (g_file_set_contents (path, "EHLO, STARTTLS, AUTH, DATA\n", -1, NULL));
  return g_file_new_for_path (path);
}

static DispatchWindow *
open_window (void)
{
  DispatchWindow *window = dispatch_window_new (GTK_APPLICATION (application));
  g_autoptr(GFile) file = make_attachment ();
  DispatchTranscriptView *transcript;

  gtk_window_set_default_size (GTK_WINDOW (window), 1120, 820);
  gtk_window_present (GTK_WINDOW (window));
  WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)));

  /* Everything the window can show at once: Cc/Bcc, an attachment, a result, a send under
   * way and a transcript. */
  dispatch_window_prefill (window, "Bob <bob@example.org>", "carol@example.org", NULL, "Lab 3", "Hi Bob");
  dispatch_window_add_attachment (window, file);
  transcript = DISPATCH_TRANSCRIPT_VIEW (window_child (window, "transcript_view"));
  dispatch_transcript_view_append (transcript, DISPATCH_SMTP_DIRECTION_SERVER, "220 test.example ESMTP");
  dispatch_transcript_view_append (transcript, DISPATCH_SMTP_DIRECTION_CLIENT, "EHLO [127.0.0.1]");
  gtk_widget_set_visible (window_child (window, "result_revealer"), TRUE);
  gtk_revealer_set_reveal_child (GTK_REVEALER (window_child (window, "result_revealer")), TRUE);
  gtk_revealer_set_reveal_child (GTK_REVEALER (window_child (window, "status_revealer")), TRUE);
  gtk_label_set_text (GTK_LABEL (window_child (window, "phase_label")), "Sending 42 %…");
  WAIT_UNTIL (gtk_widget_get_mapped (window_child (window, "progress_bar")) &&
              gtk_widget_get_mapped (window_child (window, "cc_row")));
  spin (100);

  return window;
}

static void
close_window (GtkWindow *window)
{
  gtk_window_destroy (window);
  spin (50);
}

/* The first widget at or under @widget with @role, depth first. */
static GtkWidget *
find_role (GtkWidget         *widget,
           GtkAccessibleRole  role)
{
  if (get_role (widget) == role)
    return widget;

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_role (c, role);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static void
test_window_names (void)
{
  DispatchWindow *window = open_window ();
  g_autoptr(GHashTable) widgets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GtkWidget *progress_bar = window_child (window, "progress_bar");
  GtkWidget *status = window_child (window, "status_revealer");
  g_autofree char *progress_name = NULL;
  g_autofree char *log_name = NULL;
  GtkWidget *log;

  assert_all_named (GTK_WIDGET (window));
  collect_widgets (GTK_WIDGET (window), widgets);

  /* The progress is named by the phase it is in, inside a status area. */
  progress_name = dup_accessible_name (progress_bar, widgets);
  g_assert_cmpstr (progress_name, ==, "Sending 42 %…");
  status = find_role (status, GTK_ACCESSIBLE_ROLE_STATUS);
  g_assert_nonnull (status);
  g_assert_true (gtk_widget_is_ancestor (progress_bar, status));

  /* The transcript is a log: lines arrive in order and each one is news. */
  log = find_role (window_child (window, "transcript_view"), GTK_ACCESSIBLE_ROLE_LOG);
  g_assert_true (GTK_IS_TEXT_VIEW (log));
  log_name = dup_accessible_name (log, widgets);
  g_assert_cmpstr (log_name, !=, "");

  close_window (GTK_WINDOW (window));
}

static void
assert_fields_read_only (DispatchWindow *window,
                         gboolean        read_only)
{
  static const char *const rows[] = { "to_row", "cc_row", "bcc_row", "subject_row" };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      GtkEditable *row = GTK_EDITABLE (window_child (window, rows[i]));

      gtk_test_accessible_assert_property (GTK_ACCESSIBLE (gtk_editable_get_delegate (row)),
                                           GTK_ACCESSIBLE_PROPERTY_READ_ONLY, read_only);
    }

  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (window_child (window, "body_view")),
                                       GTK_ACCESSIBLE_PROPERTY_READ_ONLY, read_only);
}

/* While a send is under way the form is locked without being dimmed: its fields stay readable
 * and reachable, and tell assistive technologies that they are read-only. The server here
 * takes the connection and never answers, so the send stays under way until cancelled. */
static void
test_window_locked_while_sending (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GSettings) settings = dispatch_settings_new ();
  g_autoptr(GError) error = NULL;
  DispatchWindow *window;

  g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &effective, &error);
  g_assert_no_error (error);

  g_settings_set_string (settings, "provider", "custom");
  g_settings_set_string (settings, "host", "127.0.0.1");
  g_settings_set_uint (settings, "port", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));
  g_settings_set_enum (settings, "security", DISPATCH_SMTP_SECURITY_NONE);
  g_settings_set_string (settings, "user", "");
  g_settings_set_string (settings, "sender-name", "Ann Example");
  g_settings_set_string (settings, "sender-address", "ann@example.org");

  window = open_window ();
  assert_fields_read_only (window, FALSE);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
  g_assert_true (dispatch_window_is_sending (window));
  assert_fields_read_only (window, TRUE);
  g_assert_true (gtk_widget_is_sensitive (window_child (window, "body_view")));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.cancel", NULL));
  g_assert_false (dispatch_window_is_sending (window));
  assert_fields_read_only (window, FALSE);

  close_window (GTK_WINDOW (window));
}

static void
test_window_keyboard (void)
{
  DispatchWindow *window = open_window ();
  g_autoptr(GPtrArray) stops = tab_cycle (GTK_WINDOW (window));
  const char *order[] = {
    "send_button", "from_row", "to_row", "cc_bcc_button", "cc_row", "bcc_row",
    "subject_row", "body_view", "attachments_list",
  };
  int previous = -1;

  print_stops (stops);
  assert_all_reached (GTK_WINDOW (window), stops);

  /* Top to bottom, the way the form reads; the transcript after the form. */
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      int index = stop_index (stops, window_child (window, order[i]));

      g_test_message ("%s at %d", order[i], index);
      g_assert_cmpint (index, >, previous);
      previous = index;
    }
  g_assert_cmpint (stop_index (stops, window_child (window, "transcript_view")), >, previous);

  close_window (GTK_WINDOW (window));
}

static void
test_account_dialog (void)
{
  DispatchWindow *window = open_window ();
  GtkWidget *dialog = dispatch_account_dialog_new (GTK_WINDOW (window));
  g_autoptr(GPtrArray) stops = NULL;
  const char *order[] = {
    "provider_row", "host_row", "port_spin", "security_row", "timeout_spin",
    "user_row", "password_row", "plaintext_switch", "sender_name_row", "sender_address_row",
    "test_row",
  };
  int previous = -1;

  gtk_window_present (GTK_WINDOW (dialog));
  WAIT_UNTIL (gtk_widget_get_mapped (dialog));
  spin (100);

  assert_all_named (dialog);

  stops = tab_cycle (GTK_WINDOW (dialog));
  print_stops (stops);
  assert_all_reached (GTK_WINDOW (dialog), stops);

  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      GObject *widget = gtk_widget_get_template_child (dialog, DISPATCH_TYPE_ACCOUNT_DIALOG, order[i]);
      int index;

      g_assert_nonnull (widget);
      index = stop_index (stops, GTK_WIDGET (widget));
      g_test_message ("%s at %d", order[i], index);
      g_assert_cmpint (index, >, previous);
      previous = index;
    }

  close_window (GTK_WINDOW (dialog));
  close_window (GTK_WINDOW (window));
}


/* The shortcuts window */

static void
collect_shortcuts (GtkWidget *widget,
                   GPtrArray *shortcuts)
{
  if (GTK_IS_SHORTCUTS_SHORTCUT (widget))
    g_ptr_array_add (shortcuts, widget);

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    collect_shortcuts (c, shortcuts);
}

/* Is @accel one of the accelerators a shortcut shows by itself (space-separated in GTK)? */
static gboolean
shortcut_shows_accel (GtkShortcutsShortcut *shortcut,
                      const char           *accel)
{
  g_autofree char *accelerator = NULL;
  g_auto(GStrv) shown = NULL;
  guint key = 0;
  GdkModifierType mods = 0;

  g_object_get (shortcut, "accelerator", &accelerator, NULL);
  if (accelerator == NULL || !gtk_accelerator_parse (accel, &key, &mods))
    return FALSE;

  shown = g_strsplit (accelerator, " ", -1);
  for (guint i = 0; shown[i] != NULL; i++)
    {
      guint shown_key = 0;
      GdkModifierType shown_mods = 0;

      if (gtk_accelerator_parse (shown[i], &shown_key, &shown_mods) &&
          shown_key == key && shown_mods == mods)
        return TRUE;
    }

  return FALSE;
}

static void
test_shortcuts_window (void)
{
  DispatchWindow *window = open_window ();
  GtkShortcutsWindow *overlay = gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (window));
  g_autoptr(GPtrArray) shortcuts = g_ptr_array_new ();
  g_auto(GStrv) actions = gtk_application_list_action_descriptions (GTK_APPLICATION (application));
  g_autoptr(GString) missing = g_string_new (NULL);
  guint n_accels = 0;

  g_assert_nonnull (overlay);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL);
  WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (overlay)));
  spin (100);

  assert_all_named (GTK_WIDGET (overlay));

  /* Every accelerator the application sets is in the window, by action or by key. */
  collect_shortcuts (GTK_WIDGET (overlay), shortcuts);
  for (guint i = 0; actions[i] != NULL; i++)
    {
      g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (application), actions[i]);

      for (guint j = 0; accels[j] != NULL; j++)
        {
          gboolean listed = FALSE;

          n_accels++;
          for (guint k = 0; k < shortcuts->len && !listed; k++)
            {
              g_autofree char *action_name = NULL;

              g_object_get (g_ptr_array_index (shortcuts, k), "action-name", &action_name, NULL);
              listed = g_strcmp0 (action_name, actions[i]) == 0 ||
                       shortcut_shows_accel (g_ptr_array_index (shortcuts, k), accels[j]);
            }

          if (!listed)
            g_string_append_printf (missing, "  %s (%s)\n", accels[j], actions[i]);
        }
    }

  if (missing->len > 0)
    {
      g_test_message ("Accelerators missing from the shortcuts window:\n%s", missing->str);
      g_test_fail ();
    }

  /* …and nothing in it names an action without an accelerator, which would show no keys. */
  for (guint k = 0; k < shortcuts->len; k++)
    {
      g_autofree char *action_name = NULL;
      g_autofree char *accelerator = NULL;

      g_object_get (g_ptr_array_index (shortcuts, k), "action-name", &action_name, "accelerator", &accelerator, NULL);
      if (action_name != NULL)
        {
          g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (application), action_name);

          g_assert_true (accels[0] != NULL || (accelerator != NULL && accelerator[0] != '\0'));
        }
    }

  /* Nine from dispatch-application.c plus GTK's own Ctrl+? for this window. */
  g_assert_cmpuint (n_accels, >=, 9);

  /* The search, once open, is named too (by its placeholder). */
  gtk_window_set_focus (GTK_WINDOW (overlay), NULL);
  {
    g_autoptr(GPtrArray) stops = tab_cycle (GTK_WINDOW (overlay));

    print_stops (stops);
    assert_all_reached (GTK_WINDOW (overlay), stops);
  }

  gtk_widget_set_visible (GTK_WIDGET (overlay), FALSE);
  close_window (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *home = g_dir_make_tmp ("dispatch-test-a11y-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (home, "data", NULL);
  g_autofree char *cache = g_build_filename (home, "cache", NULL);
  g_autofree char *config = g_build_filename (home, "config", NULL);
  g_autoptr(GError) error = NULL;
  int status;

  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  /* The test backend keeps every accessible attribute, and needs no AT-SPI bus. */
  g_setenv ("GTK_A11Y", "test", TRUE);
  g_mkdir_with_parents (data, 0700);

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  dispatch_engine_init ();
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  /* The real application, for its accelerators and the shortcuts window it gives each window;
   * not unique, so that no session bus is needed. */
  application = dispatch_application_new ();
  g_application_set_flags (G_APPLICATION (application),
                           G_APPLICATION_NON_UNIQUE | G_APPLICATION_HANDLES_COMMAND_LINE);
  g_assert_true (g_application_register (G_APPLICATION (application), NULL, &error));
  g_assert_no_error (error);

  g_test_add_func ("/accessibility/window/names", test_window_names);
  g_test_add_func ("/accessibility/window/keyboard", test_window_keyboard);
  g_test_add_func ("/accessibility/window/locked-while-sending", test_window_locked_while_sending);
  g_test_add_func ("/accessibility/account-dialog", test_account_dialog);
  g_test_add_func ("/accessibility/shortcuts-window", test_shortcuts_window);

  status = g_test_run ();
  g_clear_object (&application);

  return status;
}
