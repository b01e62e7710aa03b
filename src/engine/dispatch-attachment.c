/* dispatch-attachment.c — an attached file: how it is named, sniffed, spooled and read.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "dispatch-attachment-private.h"
#include "dispatch-error.h"

/* Enough for the magic rules of common types; the same order of size GIO sniffs with. */
#define SNIFF_LENGTH      4096
/* An attachment that can be read only once (a pipe) is copied to its spool in blocks this big. */
#define SPOOL_BLOCK       (64 * 1024)

static const char *
describe_file_error (const GError *error)
{
  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_NOT_FOUND:
          return _("the file does not exist (any more)");
        case G_IO_ERROR_PERMISSION_DENIED:
          return _("permission denied");
        case G_IO_ERROR_IS_DIRECTORY:
          return _("it is a folder, not a file");
        default:
          break;
        }
    }

  return error->message;
}

GError *
dispatch_attachment_error (const char *name,
                           GError     *cause)
{
  GError *error = NULL;

  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return cause;

  dispatch_set_error (&error, DISPATCH_ERROR_FILE, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                      _("Remove the attachment, or attach the file again."),
                      /* Translators: the first %s is a file name, the second the reason */
                      _("Cannot read the attachment “%s”: %s."),
                      name, describe_file_error (cause));
  g_error_free (cause);

  return error;
}

/* The private copy of an attachment that cannot be read twice: a pipe (--attach <(…),
 * /dev/stdin), a device, or a file behind GIO's VFS without a local path. The type sniffing,
 * the size pass and the write each read an attachment from its start, which a pipe allows
 * once; so it is read once, at the first _prepare(), into a temporary file of mode 0600 whose
 * name is removed at once: the copy goes with its last descriptor, even after a crash. Read
 * with pread(), so that a preview and a send can read it at the same time. */
struct _DispatchAttachmentSpool
{
  int fd;
};

static void
spool_clear (DispatchAttachmentSpool *spool)
{
  if (spool->fd >= 0)
    g_close (spool->fd, NULL);
}

static void
spool_unref (DispatchAttachmentSpool *spool)
{
  g_atomic_rc_box_release_full (spool, (GDestroyNotify) spool_clear);
}

DispatchAttachment *
dispatch_attachment_new_for_file (GFile *file)
{
  DispatchAttachment *attachment = g_new0 (DispatchAttachment, 1);

  attachment->file = g_object_ref (file);

  return attachment;
}

DispatchAttachment *
dispatch_attachment_new_for_path (char *canonical_path)
{
  DispatchAttachment *attachment = g_new0 (DispatchAttachment, 1);

  attachment->path = canonical_path;

  return attachment;
}

DispatchAttachment *
dispatch_attachment_copy (const DispatchAttachment *attachment)
{
  DispatchAttachment *copy = g_new0 (DispatchAttachment, 1);

  copy->file = attachment->file != NULL ? g_object_ref (attachment->file) : NULL;
  copy->path = g_strdup (attachment->path);
  copy->spool = attachment->spool != NULL ? g_atomic_rc_box_acquire (attachment->spool) : NULL;
  copy->spool_name = g_strdup (attachment->spool_name);

  return copy;
}

void
dispatch_attachment_free (DispatchAttachment *attachment)
{
  g_clear_object (&attachment->file);
  g_free (attachment->path);
  g_clear_pointer (&attachment->spool, spool_unref);
  g_free (attachment->spool_name);
  g_free (attachment);
}

/* The local file name an attachment is read from, or NULL for a GFile that has none. */
static const char *
attachment_peek_path (const DispatchAttachment *attachment)
{
  return attachment->file != NULL ? g_file_peek_path (attachment->file) : attachment->path;
}

gboolean
dispatch_attachment_is (const DispatchAttachment *attachment,
                        GFile                    *file,
                        const char               *path)
{
  const char *own_path = attachment->file != NULL ? g_file_peek_path (attachment->file)
                                                  : attachment->path;

  if (file != NULL && attachment->file != NULL)
    return g_file_equal (attachment->file, file);
  if (file != NULL)
    path = g_file_peek_path (file);

  return path != NULL && own_path != NULL && g_str_equal (path, own_path);
}

void
dispatch_attachment_input_clear (DispatchAttachmentInput *input)
{
  if (input->fd >= 0 && !input->borrowed)
    g_close (input->fd, NULL);
  input->fd = -1;
}

static void
set_error_from_errno (GError **error,
                      int      saved_errno)
{
  g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       g_strerror (saved_errno));
}

/* Opens a local file by name. Fails with G_IO_ERROR_IS_DIRECTORY for a folder, as GIO's local
 * files do. */
static gboolean
input_open_path (DispatchAttachmentInput  *input,
                 const char               *path,
                 GCancellable             *cancellable,
                 GError                  **error)
{
  struct stat st;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  input->fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (input->fd < 0 || fstat (input->fd, &st) != 0)
    {
      set_error_from_errno (error, errno);
      return FALSE;
    }
  if (S_ISDIR (st.st_mode))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, g_strerror (EISDIR));
      return FALSE;
    }
  input->seekable = S_ISREG (st.st_mode);

  return TRUE;
}

gboolean
dispatch_attachment_input_open (DispatchAttachmentInput   *input,
                                const DispatchAttachment  *attachment,
                                GCancellable              *cancellable,
                                GError                   **error)
{
  const char *path = attachment_peek_path (attachment);

  if (attachment->spool != NULL)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      input->fd = attachment->spool->fd;
      input->borrowed = TRUE;
      input->seekable = TRUE;
      input->offset = 0;
      return TRUE;
    }

  /* _prepare() spools every attachment without a local path, so this is an invariant. */
  g_assert (path != NULL);

  if (!input_open_path (input, path, cancellable, error))
    return FALSE;

  /* A regular file at _prepare() that became something else since cannot be read again. */
  if (!input->seekable)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, g_strerror (ESPIPE));
      return FALSE;
    }

  return TRUE;
}

gboolean
dispatch_attachment_input_read_all (DispatchAttachmentInput  *input,
                                    guint8                   *buffer,
                                    gsize                     len,
                                    gsize                    *n_read,
                                    GCancellable             *cancellable,
                                    GError                  **error)
{
  *n_read = 0;
  while (*n_read < len)
    {
      gssize n;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;

      if (input->seekable)
        n = pread (input->fd, buffer + *n_read, len - *n_read, (off_t) input->offset);
      else
        n = read (input->fd, buffer + *n_read, len - *n_read);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_error_from_errno (error, errno);
          return FALSE;
        }
      if (n == 0)
        break;
      *n_read += n;
      input->offset += n;
    }

  return TRUE;
}

gboolean
dispatch_attachment_input_get_size (DispatchAttachmentInput *input,
                                    guint64                 *size)
{
  struct stat st;

  if (fstat (input->fd, &st) != 0 || !S_ISREG (st.st_mode))
    return FALSE;

  *size = st.st_size;
  return TRUE;
}

static gboolean
write_all (int            fd,
           const guint8  *data,
           gsize          len,
           GError       **error)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_error_from_errno (error, errno);
          return FALSE;
        }
      data += n;
      len -= n;
    }

  return TRUE;
}

/* Copies @in (a pipe, a device), or @stream when @in is NULL, into a new spool. */
static DispatchAttachmentSpool *
spool_new_from (DispatchAttachmentInput  *in,
                GInputStream             *stream,
                GCancellable             *cancellable,
                GError                  **error)
{
  g_autofree guint8 *block = g_malloc (SPOOL_BLOCK);
  g_autofree char *tmp_name = NULL;
  g_autoptr(GError) tmp_error = NULL;
  DispatchAttachmentSpool *spool;
  gsize n_read;
  int fd;

  /* g_file_open_tmp() creates the file with mode 0600. */
  fd = g_file_open_tmp ("dispatch-attachment-XXXXXX", &tmp_name, &tmp_error);
  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   /* Translators: completes “Cannot read the attachment “%s”: %s.”; the %s
                    * here is the system's reason */
                   _("cannot make a temporary copy of it: %s"), tmp_error->message);
      return NULL;
    }
  g_unlink (tmp_name);

  spool = g_atomic_rc_box_new0 (DispatchAttachmentSpool);
  spool->fd = fd;

  do
    {
      gboolean ok;

      if (in != NULL)
        ok = dispatch_attachment_input_read_all (in, block, SPOOL_BLOCK, &n_read, cancellable, error);
      else
        ok = g_input_stream_read_all (stream, block, SPOOL_BLOCK, &n_read, cancellable, error);

      if (!ok || !write_all (fd, block, n_read, error))
        {
          spool_unref (spool);
          return NULL;
        }
    }
  while (n_read == SPOOL_BLOCK);

  return spool;
}

/* At _prepare(): makes sure the attachment can be read from its start as often as the writer
 * needs; a regular file can, anything else is spooled (once). */
static gboolean
make_rereadable (DispatchAttachment  *attachment,
                 GCancellable        *cancellable,
                 GError             **error)
{
  g_auto(DispatchAttachmentInput) input = DISPATCH_ATTACHMENT_INPUT_INIT;
  g_autoptr(GFileInputStream) stream = NULL;
  const char *path = attachment_peek_path (attachment);

  if (attachment->spool != NULL)
    return TRUE;

  if (path == NULL)
    {
      stream = g_file_read (attachment->file, cancellable, error);
      if (stream == NULL)
        return FALSE;
      attachment->spool = spool_new_from (NULL, G_INPUT_STREAM (stream), cancellable, error);
      return attachment->spool != NULL;
    }

  if (!input_open_path (&input, path, cancellable, error))
    return FALSE;
  if (input.seekable)
    return TRUE;

  attachment->spool = spool_new_from (&input, NULL, cancellable, error);
  return attachment->spool != NULL;
}

void
dispatch_attachment_info_free (DispatchAttachmentInfo *info)
{
  g_clear_pointer (&info->attachment, dispatch_attachment_free);
  g_free (info->name);
  g_free (info->mime_type);
  g_free (info);
}

static char *
file_display_name (GFile     *file,
                   GFileInfo *info)
{
  g_autofree char *basename = NULL;

  if (info != NULL && g_file_info_has_attribute (info, G_FILE_ATTRIBUTE_STANDARD_DISPLAY_NAME))
    return g_strdup (g_file_info_get_display_name (info));

  basename = g_file_get_basename (file);
  if (basename == NULL)
    return g_file_get_uri (file);

  return g_filename_display_name (basename);
}

/* A GFile's display name and size; a folder is refused here, before it is opened. On failure
 * @name still names the file, and @error holds the cause. */
static gboolean
query_file (GFile         *file,
            char         **name,
            guint64       *size,
            GCancellable  *cancellable,
            GError       **error)
{
  g_autoptr(GFileInfo) info = NULL;

  info = g_file_query_info (file,
                            G_FILE_ATTRIBUTE_STANDARD_DISPLAY_NAME ","
                            G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                            G_FILE_ATTRIBUTE_STANDARD_TYPE,
                            G_FILE_QUERY_INFO_NONE, cancellable, error);
  *name = file_display_name (file, info);
  if (info == NULL)
    return FALSE;

  if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, "");
      return FALSE;
    }

  *size = g_file_info_get_size (info);
  return TRUE;
}

/* A file name as it may stand in a part header. A name can hold any character but "/" and
 * NUL, and a line break in it would end the header line ("x\r\nBcc: …" became a header of
 * its own): each run of control characters (C0, DEL, C1) and of Unicode line and paragraph
 * separators becomes one space, and the result is trimmed, so the reader still sees the
 * words of the name. GMime then quotes it or, when not ASCII, encodes it per RFC 2231. */
static char *
clean_file_name (const char *name)
{
  g_autofree char *valid = g_utf8_make_valid (name, -1);
  GString *clean = g_string_sized_new (strlen (valid));
  gboolean in_run = FALSE;

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      GUnicodeType type = g_unichar_type (c);

      if (type == G_UNICODE_CONTROL || type == G_UNICODE_LINE_SEPARATOR ||
          type == G_UNICODE_PARAGRAPH_SEPARATOR)
        {
          if (!in_run)
            g_string_append_c (clean, ' ');
          in_run = TRUE;
          continue;
        }
      in_run = FALSE;
      g_string_append_unichar (clean, c);
    }

  g_strstrip (clean->str);
  clean->len = strlen (clean->str);
  if (clean->len == 0)
    g_string_assign (clean, "_");

  return g_string_free (clean, FALSE);
}

DispatchAttachmentInfo *
dispatch_attachment_inspect (DispatchAttachment  *attachment,
                             GCancellable        *cancellable,
                             GError             **error)
{
  g_auto(DispatchAttachmentInput) input = DISPATCH_ATTACHMENT_INPUT_INIT;
  g_autofree char *content_type = NULL;
  g_autofree char *name = NULL;
  DispatchAttachmentInfo *info;
  guint8 head[SNIFF_LENGTH];
  gsize head_len = 0;
  guint64 size = 0;
  char *mime_type;
  GError *local_error = NULL;
  gboolean ok = TRUE;

  if (attachment->spool != NULL)
    name = g_strdup (attachment->spool_name);
  else if (attachment->file != NULL)
    ok = query_file (attachment->file, &name, &size, cancellable, &local_error);
  else
    name = g_filename_display_basename (attachment->path);

  if (attachment->spool == NULL)
    {
      char *clean = clean_file_name (name);

      g_free (name);
      name = clean;
    }

  if (!ok ||
      !make_rereadable (attachment, cancellable, &local_error) ||
      !dispatch_attachment_input_open (&input, attachment, cancellable, &local_error) ||
      !dispatch_attachment_input_read_all (&input, head, sizeof head, &head_len, cancellable,
                                  &local_error))
    {
      g_propagate_error (error, dispatch_attachment_error (name, local_error));
      return NULL;
    }
  if (attachment->spool != NULL && attachment->spool_name == NULL)
    attachment->spool_name = g_strdup (name);

  dispatch_attachment_input_get_size (&input, &size);

  /* An empty file would sniff as "zero-size"; its name says more. */
  content_type = g_content_type_guess (name, head_len > 0 ? head : NULL, head_len, NULL);
  mime_type = g_content_type_get_mime_type (content_type);

  info = g_new0 (DispatchAttachmentInfo, 1);
  info->attachment = dispatch_attachment_copy (attachment);
  info->name = g_steal_pointer (&name);
  info->mime_type = mime_type != NULL ? mime_type : g_strdup ("application/octet-stream");
  info->is_inline = g_str_has_prefix (info->mime_type, "image/");
  info->size = size;

  return info;
}
