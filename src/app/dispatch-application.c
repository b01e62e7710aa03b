/* dispatch-application.c — the application: one instance, actions, command line, mailto: links.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "dispatch-account-dialog.h"
#include "dispatch-application.h"
#include "dispatch-mailto.h"
#include "dispatch-window.h"

struct _DispatchApplication
{
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (DispatchApplication, dispatch_application, ADW_TYPE_APPLICATION)

static const GOptionEntry option_entries[] = {
  { "to", 't', 0, G_OPTION_ARG_STRING, NULL,
    N_("Recipients, separated by commas"), N_("ADDRESSES") },
  { "subject", 's', 0, G_OPTION_ARG_STRING, NULL,
    N_("Subject of the message"), N_("TEXT") },
  { "attach", 'a', 0, G_OPTION_ARG_FILENAME_ARRAY, NULL,
    N_("Attach a file (may be given more than once)"), N_("FILE") },
  { "version", 0, 0, G_OPTION_ARG_NONE, NULL,
    N_("Show the version and quit"), NULL },
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL,
    NULL, N_("[mailto:…|FILE…]") },
  { NULL }
};

/* The drafts of the second and later windows of the last session come back in windows of
 * their own. */
static void
restore_other_drafts (DispatchApplication *self)
{
  g_autofree char *dir_path = g_build_filename (g_get_user_data_dir (), "dispatch", NULL);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;

      if (!g_str_has_prefix (name, DISPATCH_WINDOW_EXTRA_DRAFT_PREFIX))
        continue;

      path = g_build_filename (dir_path, name, NULL);
      gtk_window_present (GTK_WINDOW (dispatch_window_new_for_draft (GTK_APPLICATION (self), path)));
    }
}

static DispatchWindow *
get_window (DispatchApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  DispatchWindow *first;

  if (DISPATCH_IS_WINDOW (window))
    return DISPATCH_WINDOW (window);

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    {
      if (DISPATCH_IS_WINDOW (l->data))
        return DISPATCH_WINDOW (l->data);
    }

  first = dispatch_window_new (GTK_APPLICATION (self));
  restore_other_drafts (self);

  return first;
}

DispatchWindow *
dispatch_application_get_compose_window (DispatchApplication *self)
{
  GtkWindow *active;
  DispatchWindow *window;
  g_autofree char *draft_path = NULL;

  g_return_val_if_fail (DISPATCH_IS_APPLICATION (self), NULL);

  active = gtk_application_get_active_window (GTK_APPLICATION (self));
  if (DISPATCH_IS_WINDOW (active) && dispatch_window_is_blank (DISPATCH_WINDOW (active)))
    return DISPATCH_WINDOW (active);

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    {
      if (DISPATCH_IS_WINDOW (l->data) && dispatch_window_is_blank (l->data))
        return l->data;
    }

  /* The first start restores the last draft: if there is one, it is not ours to fill in. */
  window = get_window (self);
  if (dispatch_window_is_blank (window))
    return window;

  draft_path = dispatch_window_dup_new_draft_path ();
  return dispatch_window_new_for_draft (GTK_APPLICATION (self), draft_path);
}

static void
dispatch_application_activate (GApplication *application)
{
  gtk_window_present (GTK_WINDOW (get_window (DISPATCH_APPLICATION (application))));
}

static int
dispatch_application_handle_local_options (GApplication *application,
                                           GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("dispatch %s\n", PACKAGE_VERSION);
      return 0;
    }

  return -1;
}

/* Runs in the primary instance, also for a second `dispatch mailto:…`. What the command line
 * brings goes into a window with an empty form, a new one if every window holds a message:
 * a link never overwrites what someone is writing, and never joins their attachments. */
static int
dispatch_application_command_line (GApplication            *application,
                                   GApplicationCommandLine *command_line)
{
  DispatchApplication *self = DISPATCH_APPLICATION (application);
  GVariantDict *options = g_application_command_line_get_options_dict (command_line);
  g_auto(GStrv) remaining = NULL;
  g_auto(GStrv) attach = NULL;
  g_autofree char *to = NULL;
  g_autofree char *subject = NULL;
  DispatchWindow *window;

  g_variant_dict_lookup (options, "to", "s", &to);
  g_variant_dict_lookup (options, "subject", "s", &subject);
  g_variant_dict_lookup (options, "attach", "^aay", &attach);
  g_variant_dict_lookup (options, G_OPTION_REMAINING, "^as", &remaining);

  if (to != NULL || subject != NULL || attach != NULL || remaining != NULL)
    window = dispatch_application_get_compose_window (self);
  else
    window = get_window (self);

  for (guint i = 0; remaining != NULL && remaining[i] != NULL; i++)
    {
      g_autoptr(DispatchMailto) mailto = dispatch_mailto_parse (remaining[i]);

      if (mailto != NULL)
        dispatch_window_prefill (window, mailto->to, mailto->cc, mailto->bcc,
                                 mailto->subject, mailto->body);
      else
        {
          g_autoptr(GFile) file = g_application_command_line_create_file_for_arg (command_line, remaining[i]);

          dispatch_window_add_attachment (window, file);
        }
    }

  if (to != NULL || subject != NULL)
    dispatch_window_prefill (window, to, NULL, NULL, subject, NULL);

  for (guint i = 0; attach != NULL && attach[i] != NULL; i++)
    {
      g_autoptr(GFile) file = g_application_command_line_create_file_for_arg (command_line, attach[i]);

      dispatch_window_add_attachment (window, file);
    }

  gtk_window_present (GTK_WINDOW (window));

  return EXIT_SUCCESS;
}

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  GApplication *application = user_data;
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (application));

  /* Closing the windows, rather than quitting outright, lets them save their drafts. */
  for (GList *l = windows; l != NULL; )
    {
      GtkWindow *window = l->data;

      l = l->next;
      gtk_window_close (window);
    }
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  GtkApplication *application = user_data;
  GtkWidget *dialog;

  dialog = dispatch_account_dialog_new (gtk_application_get_active_window (application));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
new_message_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  DispatchWindow *window = get_window (DISPATCH_APPLICATION (user_data));

  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.new-message", NULL);
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  GtkApplication *application = user_data;
  adw_show_about_window (gtk_application_get_active_window (application),
                         "application-name", _("Dispatch"),
                         "application-icon", APP_ID,
                         "version", PACKAGE_VERSION,
                         "developer-name", _("The Dispatch contributors"),
                         "comments", _("Compose an e-mail and send it over SMTP, watching every line of the conversation with the server."),
                         "license-type", GTK_LICENSE_GPL_3_0,
                         /* Translators: put your names here, one per line */
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static const GActionEntry app_actions[] = {
  { "quit", quit_action },
  { "preferences", preferences_action },
  { "new-message", new_message_action },
  { "about", about_action },
};

static void
dispatch_application_startup (GApplication *application)
{
  static const struct {
    const char *action;
    const char *accels[3];
  } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "app.preferences", { "<Control>comma", NULL } },
    { "app.new-message", { "<Control>n", NULL } },
    { "win.send", { "<Control>Return", "<Control>KP_Enter", NULL } },
    { "win.attach", { "<Control>o", NULL } },
    { "win.show-transcript", { "F9", NULL } },
    { "window.close", { "<Control>w", NULL } },
  };

  G_APPLICATION_CLASS (dispatch_application_parent_class)->startup (application);

  g_action_map_add_action_entries (G_ACTION_MAP (application), app_actions,
                                   G_N_ELEMENTS (app_actions), application);

  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (application),
                                           accels[i].action, accels[i].accels);
}

/* GTK 4.8's shortcuts window has a search button with only an icon: no tooltip, and no name for
 * screen readers. */
static void
name_search_button (GtkWidget *widget)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (GTK_IS_TOGGLE_BUTTON (child) &&
          g_strcmp0 (gtk_button_get_icon_name (GTK_BUTTON (child)), "edit-find-symbolic") == 0 &&
          gtk_widget_get_tooltip_text (child) == NULL)
        {
          gtk_widget_set_tooltip_text (child, _("Search Shortcuts"));
          gtk_accessible_update_property (GTK_ACCESSIBLE (child),
                                          GTK_ACCESSIBLE_PROPERTY_LABEL, _("Search Shortcuts"),
                                          -1);
        }
      else
        name_search_button (child);
    }
}

/* GtkApplication gives each window its shortcuts window here. */
static void
dispatch_application_window_added (GtkApplication *application,
                                   GtkWindow      *window)
{
  GtkShortcutsWindow *overlay = NULL;

  GTK_APPLICATION_CLASS (dispatch_application_parent_class)->window_added (application, window);

  if (GTK_IS_APPLICATION_WINDOW (window))
    overlay = gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (window));

  if (overlay != NULL && gtk_window_get_titlebar (GTK_WINDOW (overlay)) != NULL)
    name_search_button (gtk_window_get_titlebar (GTK_WINDOW (overlay)));
}

static void
dispatch_application_class_init (DispatchApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);
  GtkApplicationClass *gtk_app_class = GTK_APPLICATION_CLASS (klass);

  app_class->activate = dispatch_application_activate;
  app_class->startup = dispatch_application_startup;
  app_class->command_line = dispatch_application_command_line;
  app_class->handle_local_options = dispatch_application_handle_local_options;
  gtk_app_class->window_added = dispatch_application_window_added;
}

static void
dispatch_application_init (DispatchApplication *self)
{
  g_application_add_main_option_entries (G_APPLICATION (self), option_entries);
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Compose an e-mail, filled in from a mailto: link or the options below."));
}

DispatchApplication *
dispatch_application_new (void)
{
  return g_object_new (DISPATCH_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_HANDLES_COMMAND_LINE,
                       "resource-base-path", "/io/github/dispatchmail/Dispatch",
                       NULL);
}
