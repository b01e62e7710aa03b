/* test-translation.c — under LANGUAGE=de the window, the account dialog and the engine speak German.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each window is built twice, once in English and once in German, with the .mo files the build
 * made (DISPATCH_TEST_LOCALEDIR). Every string a person can meet — labels, titles, subtitles,
 * tooltips, placeholders, menu items, list items, accessible names — is collected in tree order;
 * a string that comes out the same in both languages is untranslated, unless it is a name or a
 * protocol word that German keeps (allowed[]) or data the test typed in. A German string that is
 * still one of our English msgids is caught too. Under Xvfb; GTK_A11Y=test for accessible names.
 */
#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <locale.h>

#include "dispatch-account-dialog.h"
#include "dispatch-account.h"
#include "dispatch-engine.h"
#include "dispatch-error.h"
#include "dispatch-settings.h"
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

/* Strings German writes as English does: names, protocol words, units. */
static const char *const allowed[] = {
  "Dispatch", "SMTP", "STARTTLS", "TLS", "SHA-256", "EHLO", "AUTH",
  "Gmail", "Yahoo", "iCloud", "Fastmail", "Outlook / Microsoft 365",
  "Server", "Port", "Name",
  NULL
};

/* What the test itself puts into the form: the same in every language. */
#define SENDER_NAME "Ann Example"
#define SENDER_ADDRESS "ann@example.org"

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

/* Switch gettext to @language; textdomain() makes glibc drop the translations it cached. */
static void
use_language (const char *language)
{
  if (language != NULL)
    g_setenv ("LANGUAGE", language, TRUE);
  else
    g_unsetenv ("LANGUAGE");
  textdomain (GETTEXT_PACKAGE);
}

typedef struct
{
  char *where;
  char *text;
} Shown;

static void
shown_free (gpointer data)
{
  Shown *shown = data;

  g_free (shown->where);
  g_free (shown->text);
  g_free (shown);
}

static void
add_shown (GPtrArray  *strings,
           const char *type,
           const char *what,
           const char *text)
{
  Shown *shown;

  if (text == NULL || *text == '\0')
    return;

  shown = g_new0 (Shown, 1);
  shown->where = g_strdup_printf ("%s %s", type, what);
  shown->text = g_strdup (text);
  g_ptr_array_add (strings, shown);
}

static void
collect_menu (GMenuModel *model,
              GPtrArray  *strings)
{
  for (int i = 0; i < g_menu_model_get_n_items (model); i++)
    {
      g_autofree char *label = NULL;
      g_autoptr(GMenuLinkIter) links = NULL;

      if (g_menu_model_get_item_attribute (model, i, G_MENU_ATTRIBUTE_LABEL, "s", &label))
        add_shown (strings, "GMenuItem", "label", label);

      links = g_menu_model_iterate_item_links (model, i);
      while (g_menu_link_iter_next (links))
        {
          g_autoptr(GMenuModel) linked = g_menu_link_iter_get_value (links);
          collect_menu (linked, strings);
        }
    }
}

/* GTK 4.8 has no getter for accessible properties; the test context returns the value when it
 * differs from the one given (see test-accessibility.c). */
static void
collect_accessible (GtkWidget                *widget,
                    GtkAccessibleProperty     property,
                    const char               *what,
                    GPtrArray                *strings)
{
  g_autofree char *value = NULL;

  if (!gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget), property))
    return;

  value = gtk_test_accessible_check_property (GTK_ACCESSIBLE (widget), property, "");
  add_shown (strings, G_OBJECT_TYPE_NAME (widget), what, value);
}

static void
collect_widget (GtkWidget *widget,
                GPtrArray *strings)
{
  static const char *const properties[] = {
    "title", "subtitle", "description", "label", "tooltip-text", "placeholder-text", NULL
  };
  GObjectClass *klass = G_OBJECT_GET_CLASS (widget);
  const char *type = G_OBJECT_TYPE_NAME (widget);

  for (guint i = 0; properties[i] != NULL; i++)
    {
      GParamSpec *pspec = g_object_class_find_property (klass, properties[i]);
      g_autofree char *value = NULL;

      if (pspec == NULL || pspec->value_type != G_TYPE_STRING || !(pspec->flags & G_PARAM_READABLE))
        continue;
      g_object_get (widget, properties[i], &value, NULL);
      add_shown (strings, type, properties[i], value);
    }

  collect_accessible (widget, GTK_ACCESSIBLE_PROPERTY_LABEL, "accessible label", strings);
  collect_accessible (widget, GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, "accessible description", strings);

  if (GTK_IS_MENU_BUTTON (widget) && gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (widget)) != NULL)
    collect_menu (gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (widget)), strings);

  if (ADW_IS_COMBO_ROW (widget) && GTK_IS_STRING_LIST (adw_combo_row_get_model (ADW_COMBO_ROW (widget))))
    {
      GtkStringList *list = GTK_STRING_LIST (adw_combo_row_get_model (ADW_COMBO_ROW (widget)));

      for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (list)); i++)
        add_shown (strings, type, "item", gtk_string_list_get_string (list, i));
    }

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    collect_widget (c, strings);
}

static gboolean
has_letters (const char *text)
{
  guint run = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      run = g_unichar_isalpha (g_utf8_get_char (p)) ? run + 1 : 0;
      if (run >= 2)
        return TRUE;
    }
  return FALSE;
}

static gboolean
may_stay_english (const char *text)
{
  return !has_letters (text) ||
         g_strv_contains (allowed, text) ||
         strstr (text, SENDER_NAME) != NULL ||
         strstr (text, SENDER_ADDRESS) != NULL ||
         strstr (text, "127.0.0.1") != NULL;
}

/* @english and @german were collected from the same tree; report every string left in English. */
static void
assert_translated (const char *what,
                   GPtrArray  *english,
                   GPtrArray  *german)
{
  g_autoptr(GString) untranslated = g_string_new (NULL);

  g_test_message ("%s: %u strings", what, german->len);
  g_assert_cmpuint (german->len, >, 10);

  if (english->len != german->len)
    g_error ("%s: %u strings in English but %u in German: the tree differs", what, english->len, german->len);

  for (guint i = 0; i < german->len; i++)
    {
      Shown *en = g_ptr_array_index (english, i);
      Shown *de = g_ptr_array_index (german, i);
      const char *translation = g_dgettext (GETTEXT_PACKAGE, de->text);

      g_assert_cmpstr (en->where, ==, de->where);
      if (g_test_verbose ())
        g_test_message ("%s: “%s” → “%s”", de->where, en->text, de->text);

      /* Still one of our msgids, which German translates differently. */
      if (g_strcmp0 (translation, de->text) != 0)
        g_string_append_printf (untranslated, "\n  %s: “%s” (German: “%s”)", de->where, de->text, translation);
      else if (g_strcmp0 (en->text, de->text) == 0 && !may_stay_english (de->text))
        g_string_append_printf (untranslated, "\n  %s: “%s”", de->where, de->text);
    }

  if (untranslated->len > 0)
    g_error ("%s shows English under LANGUAGE=de:%s", what, untranslated->str);
}

static void
configure_account (void)
{
  g_autoptr(GSettings) settings = dispatch_settings_new ();

  g_settings_set_string (settings, "provider", "custom");
  g_settings_set_string (settings, "host", "127.0.0.1");
  g_settings_set_uint (settings, "port", 2525);
  g_settings_set_enum (settings, "security", DISPATCH_SMTP_SECURITY_NONE);
  g_settings_set_string (settings, "user", "");
  g_settings_set_string (settings, "sender-name", SENDER_NAME);
  g_settings_set_string (settings, "sender-address", SENDER_ADDRESS);
}

static DispatchWindow *
open_window (void)
{
  DispatchWindow *window = dispatch_window_new (NULL);

  gtk_window_set_default_size (GTK_WINDOW (window), 1120, 820);
  gtk_window_present (GTK_WINDOW (window));
  WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)));
  spin (50);

  return window;
}

static void
close_window (GtkWidget *window)
{
  gtk_window_destroy (GTK_WINDOW (window));
  spin (50);
}

static GPtrArray *
collect_main_window (void)
{
  GPtrArray *strings = g_ptr_array_new_with_free_func (shown_free);
  DispatchWindow *window = open_window ();

  collect_widget (GTK_WIDGET (window), strings);
  close_window (GTK_WIDGET (window));

  return strings;
}

static GPtrArray *
collect_account_dialog (void)
{
  GPtrArray *strings = g_ptr_array_new_with_free_func (shown_free);
  DispatchWindow *window = open_window ();
  GtkWidget *dialog = dispatch_account_dialog_new (GTK_WINDOW (window));

  gtk_window_present (GTK_WINDOW (dialog));
  WAIT_UNTIL (gtk_widget_get_mapped (dialog));
  spin (50);

  collect_widget (dialog, strings);
  close_window (dialog);
  close_window (GTK_WIDGET (window));

  return strings;
}

static GPtrArray *
collect_shortcuts (void)
{
  GPtrArray *strings = g_ptr_array_new_with_free_func (shown_free);
  g_autoptr(GtkBuilder) builder = gtk_builder_new_from_resource ("/io/github/dispatchmail/Dispatch/gtk/help-overlay.ui");
  GtkWidget *overlay = GTK_WIDGET (gtk_builder_get_object (builder, "help_overlay"));

  collect_widget (overlay, strings);
  gtk_window_destroy (GTK_WINDOW (overlay));

  return strings;
}

static void
check_window (const char   *what,
              GPtrArray *(*collect) (void))
{
  g_autoptr(GPtrArray) english = NULL;
  g_autoptr(GPtrArray) german = NULL;

  use_language ("en");
  english = collect ();
  use_language ("de");
  german = collect ();

  assert_translated (what, english, german);
}

static void
test_main_window (void)
{
  check_window ("The main window", collect_main_window);
}

static void
test_account_dialog (void)
{
  check_window ("The account dialog", collect_account_dialog);
}

static void
test_shortcuts_window (void)
{
  check_window ("The shortcuts window", collect_shortcuts);
}

static void
test_engine (void)
{
  g_autoptr(DispatchAccount) account = dispatch_account_new ();
  g_autoptr(GError) error = NULL;
  const char *hint;

  use_language ("de");

  hint = dispatch_error_auth_hint ("smtp.gmail.com");
  g_assert_true (g_str_has_prefix (hint, "Gmail akzeptiert hier nicht Ihr normales Passwort."));

  /* An account without a server: the engine's error and its advice, as the window shows them. */
  g_assert_false (dispatch_account_validate (account, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_assert_cmpstr (error->message, ==, "Der Servername fehlt.");
  g_assert_true (g_str_has_prefix (dispatch_error_get_hint (error), "Geben Sie den Namen des Postausgangsservers"));

  g_assert_cmpstr (dispatch_smtp_stage_to_string (DISPATCH_SMTP_STAGE_CONNECT), ==, "Verbindungsaufbau");
}

static void
note_cb (DispatchSmtpSession   *session,
         DispatchSmtpDirection  direction,
         const char            *line,
         GString               *notes)
{
  if (direction == DISPATCH_SMTP_DIRECTION_INFO)
    g_string_append_printf (notes, "%s\n", line);
}

static void
send_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(DispatchSmtpResult) smtp_result = NULL;
  g_autoptr(GError) error = NULL;

  smtp_result = dispatch_smtp_session_send_finish (DISPATCH_SMTP_SESSION (object), result, &error);
  g_assert_null (smtp_result);
  *done = TRUE;
}

/* The transcript's notes are the engine's, and as translated as its errors. */
static void
test_transcript_notes (void)
{
  g_autoptr(DispatchSmtpSession) session = dispatch_smtp_session_new ();
  g_autoptr(DispatchAccount) account = dispatch_account_new ();
  g_autoptr(DispatchMessage) message = dispatch_message_new ();
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GString) notes = g_string_new (NULL);
  g_autofree char *expected = NULL;
  gboolean done = FALSE;
  guint16 port;

  use_language ("de");

  /* A port nobody listens on: the connection is refused after the first note. */
  port = g_socket_listener_add_any_inet_port (listener, NULL, NULL);
  g_socket_listener_close (listener);

  dispatch_account_set_host (account, "127.0.0.1");
  dispatch_account_set_port (account, port);
  dispatch_account_set_security (account, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_message_set_from (message, "ann@example.org");
  dispatch_message_set_to (message, "bob@example.org");
  dispatch_message_set_text (message, "Hallo");

  g_signal_connect (session, "transcript", G_CALLBACK (note_cb), notes);
  dispatch_smtp_session_send_async (session, account, NULL, NULL, message, NULL, send_done_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);

  expected = g_strdup_printf ("Verbindung zu 127.0.0.1, Port %u\n", port);
  g_assert_true (g_str_has_prefix (notes->str, expected));
}

/* The Plural-Forms headers: French counts 0 as singular, German and Spanish do not. */
static void
test_plural_forms (void)
{
  static const struct {
    const char *language;
    gulong n;
    const char *expected;
  } cases[] = {
    { "de", 1, "%s hat nicht innerhalb von %u Sekunde geantwortet." },
    { "de", 0, "%s hat nicht innerhalb von %u Sekunden geantwortet." },
    { "fr", 0, "%s n’a pas répondu en %u seconde." },
    { "fr", 2, "%s n’a pas répondu en %u secondes." },
    { "es", 0, "%s no respondió en %u segundos." },
    { "es", 1, "%s no respondió en %u segundo." },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      use_language (cases[i].language);
      g_assert_cmpstr (g_dngettext (GETTEXT_PACKAGE,
                                    "%s did not answer within %u second.",
                                    "%s did not answer within %u seconds.",
                                    cases[i].n), ==, cases[i].expected);
    }
  use_language ("de");
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *home = g_dir_make_tmp ("dispatch-test-translation-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (home, "data", NULL);
  g_autofree char *cache = g_build_filename (home, "cache", NULL);
  g_autofree char *config = g_build_filename (home, "config", NULL);
  const char *localedir = g_getenv ("DISPATCH_TEST_LOCALEDIR");

  /* Drafts go to a directory of our own, never the user's. */
  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_setenv ("GTK_A11Y", "test", TRUE);

  gtk_test_init (&argc, &argv, NULL);

  /* gtk_test_init() asks for en_US.UTF-8, which may not exist; gettext ignores LANGUAGE in the
   * C locale, so take the environment's (C.UTF-8 from meson). */
  setlocale (LC_ALL, "");

  adw_init ();
  dispatch_engine_init ();

  /* After dispatch_engine_init(), which binds the installed catalogue. */
  if (localedir == NULL)
    g_error ("DISPATCH_TEST_LOCALEDIR must name the build directory's po/");
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  configure_account ();

  g_test_add_func ("/translation/engine", test_engine);
  g_test_add_func ("/translation/plural-forms", test_plural_forms);
  g_test_add_func ("/translation/transcript-notes", test_transcript_notes);
  g_test_add_func ("/translation/main-window", test_main_window);
  g_test_add_func ("/translation/account-dialog", test_account_dialog);
  g_test_add_func ("/translation/shortcuts-window", test_shortcuts_window);

  return g_test_run ();
}
