/* dispatch-setup-banner.c — the first start: what to do before the first message can go out.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A newcomer's window names "root@localhost · 127.0.0.1:8025", which tells nothing. Until an
 * account is set up, this card says what to do: set up an account (the provider presets), or
 * — only when one really answers on this computer — use the local test server. Nothing that
 * is not there is ever offered: a Flatpak install, or a computer without a test server, sees
 * only the first.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "dispatch-settings.h"
#include "dispatch-setup-banner.h"

/* The wait for a local server's greeting: it is on this computer, or it is not there. */
#define PROBE_TIMEOUT_SECONDS 3

struct _DispatchSetupBanner
{
  GtkWidget     parent_instance;

  /* Template widgets */
  GtkRevealer  *revealer;
  GtkLabel     *description;
  GtkWidget    *local_button;
  GtkWidget    *setup_button;

  /* Owned */
  GSettings    *settings;
  GCancellable *probe;          /* the look for a local server under way */
  GtkWindow    *window;         /* borrowed: the window the banner is in, while it is */
  char         *local_host;
  guint         local_port;

  guint         offers_local : 1;
};

G_DEFINE_FINAL_TYPE (DispatchSetupBanner, dispatch_setup_banner, GTK_TYPE_WIDGET)

static void
update (DispatchSetupBanner *self)
{
  gboolean set_up = dispatch_settings_is_account_set_up (self->settings);

  gtk_revealer_set_reveal_child (self->revealer, !set_up);
  gtk_widget_set_visible (GTK_WIDGET (self), !set_up);
  gtk_widget_set_visible (self->local_button, self->offers_local);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "setup.use-local-server", self->offers_local);

  if (self->offers_local)
    {
      g_autofree char *text = NULL;

      /* Translators: %s:%u is a local test server, "127.0.0.1:8025" */
      text = g_strdup_printf (_("Dispatch sends through your mail provider’s server: choose Gmail, Outlook or another provider and sign in. To practise first, a test server answers on this computer at %s:%u; what it receives stays here."),
                              self->local_host, self->local_port);
      gtk_label_set_text (self->description, text);
    }
  else
    gtk_label_set_text (self->description,
                        _("Dispatch sends through your mail provider’s server: choose Gmail, Outlook or another provider and sign in. The password is kept in your keyring."));
}


/* Looking for a local test server */

static void
probe_greeting_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(DispatchSetupBanner) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (object), result, NULL, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  /* An SMTP server greets with 220; anything else on that port is not one to offer. */
  self->offers_local = line != NULL && g_str_has_prefix (line, "220");
  g_clear_object (&self->probe);
  update (self);
}

static void
probe_connected_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(DispatchSetupBanner) self = user_data;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GDataInputStream) input = NULL;
  g_autoptr(GError) error = NULL;
  GCancellable *cancellable;

  connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (object), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  if (connection == NULL)
    {
      g_debug ("No local test server at %s:%u: %s", self->local_host, self->local_port, error->message);
      self->offers_local = FALSE;
      g_clear_object (&self->probe);
      update (self);
      return;
    }

  /* The stream keeps the connection; the greeting is all we read, and the connection closes
   * when the stream goes. */
  input = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_object_set_data_full (G_OBJECT (input), "connection", g_steal_pointer (&connection), g_object_unref);
  g_data_input_stream_set_newline_type (input, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  g_buffered_input_stream_set_buffer_size (G_BUFFERED_INPUT_STREAM (input), 512);
  cancellable = self->probe;
  g_data_input_stream_read_line_async (input, G_PRIORITY_DEFAULT, cancellable,
                                       probe_greeting_cb, g_object_ref (self));
}

static void
probe_local_server (DispatchSetupBanner *self)
{
  g_autoptr(GSocketClient) client = NULL;

  g_cancellable_cancel (self->probe);
  g_clear_object (&self->probe);
  self->offers_local = FALSE;
  update (self);

  /* Only loopback, and only while there is something to offer it for. */
  if (self->local_host == NULL || dispatch_settings_is_account_set_up (self->settings))
    return;

  self->probe = g_cancellable_new ();
  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, PROBE_TIMEOUT_SECONDS);
  g_socket_client_connect_to_host_async (client, self->local_host, self->local_port, self->probe,
                                         probe_connected_cb, g_object_ref (self));
}

static void
use_local_server_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *param)
{
  DispatchSetupBanner *self = DISPATCH_SETUP_BANNER (widget);

  if (!self->offers_local)
    return;

  g_settings_delay (self->settings);
  g_settings_set_string (self->settings, "provider", "local");
  g_settings_set_string (self->settings, "host", self->local_host);
  g_settings_set_uint (self->settings, "port", self->local_port);
  g_settings_set_enum (self->settings, "security", DISPATCH_SMTP_SECURITY_NONE);
  g_settings_set_string (self->settings, "user", "");
  g_settings_set_boolean (self->settings, "account-set-up", TRUE);
  g_settings_apply (self->settings);
}

static void
settings_changed_cb (DispatchSetupBanner *self,
                     const char          *key)
{
  update (self);
}


/* A test server started after the window: looked for again when the person comes back to it. */
static void
window_active_cb (DispatchSetupBanner *self)
{
  if (gtk_window_is_active (self->window) && !self->offers_local && self->probe == NULL &&
      self->local_host != NULL && !dispatch_settings_is_account_set_up (self->settings))
    probe_local_server (self);
}

static void
dispatch_setup_banner_root (GtkWidget *widget)
{
  DispatchSetupBanner *self = DISPATCH_SETUP_BANNER (widget);
  GtkRoot *root;

  GTK_WIDGET_CLASS (dispatch_setup_banner_parent_class)->root (widget);

  root = gtk_widget_get_root (widget);
  if (GTK_IS_WINDOW (root))
    {
      self->window = GTK_WINDOW (root);
      g_signal_connect_object (root, "notify::is-active", G_CALLBACK (window_active_cb), self, G_CONNECT_SWAPPED);
    }
}

static void
dispatch_setup_banner_unroot (GtkWidget *widget)
{
  DispatchSetupBanner *self = DISPATCH_SETUP_BANNER (widget);

  if (self->window != NULL)
    g_signal_handlers_disconnect_by_func (self->window, window_active_cb, self);
  self->window = NULL;

  GTK_WIDGET_CLASS (dispatch_setup_banner_parent_class)->unroot (widget);
}


/* GObject */

static void
dispatch_setup_banner_dispose (GObject *object)
{
  DispatchSetupBanner *self = (DispatchSetupBanner *)object;

  g_cancellable_cancel (self->probe);
  g_clear_object (&self->probe);
  gtk_widget_dispose_template (GTK_WIDGET (self), DISPATCH_TYPE_SETUP_BANNER);

  G_OBJECT_CLASS (dispatch_setup_banner_parent_class)->dispose (object);
}

static void
dispatch_setup_banner_finalize (GObject *object)
{
  DispatchSetupBanner *self = (DispatchSetupBanner *)object;

  g_clear_object (&self->settings);
  g_free (self->local_host);

  G_OBJECT_CLASS (dispatch_setup_banner_parent_class)->finalize (object);
}

static void
dispatch_setup_banner_class_init (DispatchSetupBannerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = dispatch_setup_banner_dispose;
  object_class->finalize = dispatch_setup_banner_finalize;
  widget_class->root = dispatch_setup_banner_root;
  widget_class->unroot = dispatch_setup_banner_unroot;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/dispatchmail/Dispatch/dispatch-setup-banner.ui");
  gtk_widget_class_bind_template_child (widget_class, DispatchSetupBanner, revealer);
  gtk_widget_class_bind_template_child (widget_class, DispatchSetupBanner, description);
  gtk_widget_class_bind_template_child (widget_class, DispatchSetupBanner, local_button);
  gtk_widget_class_bind_template_child (widget_class, DispatchSetupBanner, setup_button);

  gtk_widget_class_install_action (widget_class, "setup.use-local-server", NULL, use_local_server_action);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "setupbanner");
}

static void
dispatch_setup_banner_init (DispatchSetupBanner *self)
{
  g_autoptr(GVariant) host = NULL;
  g_autoptr(GVariant) port = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = dispatch_settings_new ();
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (settings_changed_cb), self, G_CONNECT_SWAPPED);

  /* The default account is the local test server; it is offered where it answers. */
  host = g_settings_get_default_value (self->settings, "host");
  port = g_settings_get_default_value (self->settings, "port");
  dispatch_setup_banner_set_local_server (self, g_variant_get_string (host, NULL), g_variant_get_uint32 (port));
}

GtkWidget *
dispatch_setup_banner_new (void)
{
  return g_object_new (DISPATCH_TYPE_SETUP_BANNER, NULL);
}

void
dispatch_setup_banner_set_local_server (DispatchSetupBanner *self,
                                        const char          *host,
                                        guint                port)
{
  GInetAddress *address;

  g_return_if_fail (DISPATCH_IS_SETUP_BANNER (self));
  g_return_if_fail (host != NULL);

  /* A test server "on this computer" is on the loopback, or it is not one. */
  address = g_inet_address_new_from_string (host);
  g_clear_pointer (&self->local_host, g_free);
  if (address != NULL && g_inet_address_get_is_loopback (address))
    self->local_host = g_strdup (host);
  g_clear_object (&address);
  self->local_port = port;

  probe_local_server (self);
}

gboolean
dispatch_setup_banner_get_revealed (DispatchSetupBanner *self)
{
  g_return_val_if_fail (DISPATCH_IS_SETUP_BANNER (self), FALSE);

  return gtk_revealer_get_reveal_child (self->revealer);
}

gboolean
dispatch_setup_banner_get_offers_local (DispatchSetupBanner *self)
{
  g_return_val_if_fail (DISPATCH_IS_SETUP_BANNER (self), FALSE);

  return self->offers_local;
}
