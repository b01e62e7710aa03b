/* dispatch-attachment-row.c — one attached file: thumbnail or icon, name, size, remove.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "dispatch-attachment-row.h"

/* Twice the shown size, for scaled displays. Images are decoded in a worker thread by
 * GdkPixbuf, scaled as they load, and never kept at full size. The load is larger than the
 * thumbnail so that the square cut from the middle of a wide picture is still sharp. */
#define THUMBNAIL_SIZE 96
#define THUMBNAIL_LOAD_SIZE 256
#define THUMBNAIL_MAX_FILE_SIZE (64 * 1024 * 1024)

struct _DispatchAttachmentRow
{
  AdwActionRow   parent_instance;

  /* Template widgets */
  GtkStack      *preview_stack;
  GtkImage      *icon;
  GtkImage      *picture;

  /* Owned references */
  GFile         *file;
  GCancellable  *cancellable;
  GdkTexture    *thumbnail;

  guint64        size;
};

enum {
  PROP_0,
  PROP_FILE,
  PROP_SIZE,
  N_PROPS
};

enum {
  REMOVE,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (DispatchAttachmentRow, dispatch_attachment_row, ADW_TYPE_ACTION_ROW)

static void
thumbnail_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(DispatchAttachmentRow) self = user_data;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GdkPixbuf) square = NULL;
  g_autoptr(GdkPixbuf) scaled = NULL;
  g_autoptr(GError) error = NULL;
  int width, height, side;

  pixbuf = gdk_pixbuf_new_from_stream_finish (result, &error);
  if (pixbuf == NULL)
    {
      /* The icon stays: an image GdkPixbuf cannot read is still a fine attachment. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("No thumbnail for %s: %s", g_file_peek_path (self->file), error->message);
      return;
    }

  /* The middle square, like the file manager's grid view. */
  width = gdk_pixbuf_get_width (pixbuf);
  height = gdk_pixbuf_get_height (pixbuf);
  side = MIN (width, height);
  square = gdk_pixbuf_new_subpixbuf (pixbuf, (width - side) / 2, (height - side) / 2, side, side);
  scaled = gdk_pixbuf_scale_simple (square, MIN (side, THUMBNAIL_SIZE), MIN (side, THUMBNAIL_SIZE),
                                    GDK_INTERP_BILINEAR);

  g_clear_object (&self->thumbnail);
  self->thumbnail = gdk_texture_new_for_pixbuf (scaled);
  gtk_image_set_from_paintable (self->picture, GDK_PAINTABLE (self->thumbnail));
  gtk_stack_set_visible_child_name (self->preview_stack, "thumbnail");
}

static void
read_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(DispatchAttachmentRow) self = user_data;
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;

  stream = g_file_read_finish (G_FILE (object), result, &error);
  if (stream == NULL)
    return;

  gdk_pixbuf_new_from_stream_at_scale_async (G_INPUT_STREAM (stream),
                                             THUMBNAIL_LOAD_SIZE, THUMBNAIL_LOAD_SIZE, TRUE,
                                             self->cancellable,
                                             thumbnail_cb,
                                             g_object_ref (self));
}

static void
query_info_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(DispatchAttachmentRow) self = user_data;
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *size = NULL;
  g_autofree char *description = NULL;
  g_autofree char *subtitle = NULL;
  const char *content_type;
  GIcon *icon;

  info = g_file_query_info_finish (G_FILE (object), result, &error);
  if (info == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      adw_action_row_set_subtitle (ADW_ACTION_ROW (self), error->message);
      gtk_widget_add_css_class (GTK_WIDGET (self), "error");
      gtk_image_set_from_icon_name (self->icon, "dialog-warning-symbolic");
      return;
    }

  self->size = g_file_info_get_size (info);
  content_type = g_file_info_get_content_type (info);
  icon = g_file_info_get_icon (info);

  if (g_file_info_get_display_name (info) != NULL)
    adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), g_file_info_get_display_name (info));

  if (icon != NULL)
    gtk_image_set_from_gicon (self->icon, icon);

  size = g_format_size (self->size);
  description = content_type ? g_content_type_get_description (content_type) : NULL;

  if (description != NULL)
    /* Translators: size and kind of an attachment: "1.2 MB · PNG image" */
    subtitle = g_strdup_printf (_("%s · %s"), size, description);
  else
    subtitle = g_steal_pointer (&size);

  adw_action_row_set_subtitle (ADW_ACTION_ROW (self), subtitle);
  gtk_widget_remove_css_class (GTK_WIDGET (self), "error");

  if (content_type != NULL &&
      g_content_type_is_mime_type (content_type, "image/*") &&
      self->size <= THUMBNAIL_MAX_FILE_SIZE)
    g_file_read_async (self->file, G_PRIORITY_LOW, self->cancellable, read_cb, g_object_ref (self));

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE]);
}

static void
remove_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  g_signal_emit (widget, signals[REMOVE], 0);
}

static void
dispatch_attachment_row_constructed (GObject *object)
{
  DispatchAttachmentRow *self = (DispatchAttachmentRow *)object;
  g_autofree char *basename = NULL;

  G_OBJECT_CLASS (dispatch_attachment_row_parent_class)->constructed (object);

  g_assert (self->file != NULL);

  basename = g_file_get_basename (self->file);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), basename);

  g_file_query_info_async (self->file,
                           G_FILE_ATTRIBUTE_STANDARD_DISPLAY_NAME ","
                           G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                           G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE ","
                           G_FILE_ATTRIBUTE_STANDARD_ICON,
                           G_FILE_QUERY_INFO_NONE,
                           G_PRIORITY_DEFAULT,
                           self->cancellable,
                           query_info_cb,
                           g_object_ref (self));
}

static void
dispatch_attachment_row_dispose (GObject *object)
{
  DispatchAttachmentRow *self = (DispatchAttachmentRow *)object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->thumbnail);

  G_OBJECT_CLASS (dispatch_attachment_row_parent_class)->dispose (object);
}

static void
dispatch_attachment_row_finalize (GObject *object)
{
  DispatchAttachmentRow *self = (DispatchAttachmentRow *)object;

  g_clear_object (&self->file);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (dispatch_attachment_row_parent_class)->finalize (object);
}

static void
dispatch_attachment_row_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  DispatchAttachmentRow *self = DISPATCH_ATTACHMENT_ROW (object);

  switch (prop_id)
    {
    case PROP_FILE:
      g_value_set_object (value, self->file);
      break;

    case PROP_SIZE:
      g_value_set_uint64 (value, self->size);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dispatch_attachment_row_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  DispatchAttachmentRow *self = DISPATCH_ATTACHMENT_ROW (object);

  switch (prop_id)
    {
    case PROP_FILE:
      self->file = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dispatch_attachment_row_class_init (DispatchAttachmentRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = dispatch_attachment_row_constructed;
  object_class->dispose = dispatch_attachment_row_dispose;
  object_class->finalize = dispatch_attachment_row_finalize;
  object_class->get_property = dispatch_attachment_row_get_property;
  object_class->set_property = dispatch_attachment_row_set_property;

  properties[PROP_FILE] =
    g_param_spec_object ("file", NULL, NULL,
                         G_TYPE_FILE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_SIZE] =
    g_param_spec_uint64 ("size", NULL, NULL,
                         0, G_MAXUINT64, 0,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[REMOVE] =
    g_signal_new ("remove",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/dispatchmail/Dispatch/dispatch-attachment-row.ui");
  gtk_widget_class_bind_template_child (widget_class, DispatchAttachmentRow, preview_stack);
  gtk_widget_class_bind_template_child (widget_class, DispatchAttachmentRow, icon);
  gtk_widget_class_bind_template_child (widget_class, DispatchAttachmentRow, picture);

  gtk_widget_class_install_action (widget_class, "attachment.remove", NULL, remove_action);
}

static void
dispatch_attachment_row_init (DispatchAttachmentRow *self)
{
  self->cancellable = g_cancellable_new ();

  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
dispatch_attachment_row_new (GFile *file)
{
  g_return_val_if_fail (G_IS_FILE (file), NULL);

  return g_object_new (DISPATCH_TYPE_ATTACHMENT_ROW,
                       "file", file,
                       NULL);
}

GFile *
dispatch_attachment_row_get_file (DispatchAttachmentRow *self)
{
  g_return_val_if_fail (DISPATCH_IS_ATTACHMENT_ROW (self), NULL);

  return self->file;
}

guint64
dispatch_attachment_row_get_size (DispatchAttachmentRow *self)
{
  g_return_val_if_fail (DISPATCH_IS_ATTACHMENT_ROW (self), 0);

  return self->size;
}

GdkPaintable *
dispatch_attachment_row_get_thumbnail (DispatchAttachmentRow *self)
{
  g_return_val_if_fail (DISPATCH_IS_ATTACHMENT_ROW (self), NULL);

  return self->thumbnail ? GDK_PAINTABLE (self->thumbnail) : NULL;
}
