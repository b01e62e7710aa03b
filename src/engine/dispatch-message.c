/* dispatch-message.c — the e-mail being composed: fields → GMime tree, envelope, streaming writer.
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
#include <gmime/gmime.h>

#include "dispatch-engine.h"
#include "dispatch-error.h"
#include "dispatch-message.h"

/* GMime 3.2 declares no autoptr cleanups of its own. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeObject, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMultipart, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimePart, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeTextPart, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeDataWrapper, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeFilter, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeContentType, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (InternetAddressList, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeParserOptions, g_mime_parser_options_free)

/* Enough for the magic rules of common types; the same order of size GIO sniffs with. */
#define SNIFF_LENGTH      4096
/* The writer hands the socket 64 KiB at a time: few TLS records, and the progress callback
 * runs at most once per chunk. */
#define WRITE_CHUNK       (64 * 1024)
/* GMime's base64 lines: 57 octets become 76 characters, plus CRLF on the wire. */
#define BASE64_LINE_RAW   57
#define BASE64_LINE_WIRE  78
/* An attachment that can be read only once (a pipe) is copied to its spool in blocks this big. */
#define SPOOL_BLOCK       (64 * 1024)
/* How much of a bad address an error message quotes. */
#define QUOTE_MAX_CHARS   60
/* RFC 5321 §4.5.3.1: the longest local part and address (a 256-octet path less "<>") any
 * server must take; past them no server takes the address, nor can GMime fold it to fit the
 * 998-octet header line of RFC 5322. */
#define MAX_LOCAL_PART    64
#define MAX_ADDRESS       254
/* GMime 3.2 writes a group's name on one line however long it is (mailbox names it folds), so
 * a name much longer than this breaks RFC 5322's 998-octet line limit. Real group names
 * ("Undisclosed recipients", "Team") are a few words. */
#define MAX_GROUP_NAME    256

typedef enum
{
  FIELD_FROM,
  FIELD_TO,
  FIELD_CC,
  FIELD_BCC,
  FIELD_SUBJECT,
} MessageField;

static const char *
field_label (MessageField field)
{
  /* Translators: the message fields as the compose window labels them; error messages quote
   * them, e.g. “The “To” field contains a line break”. */
  switch (field)
    {
    case FIELD_FROM:
      return C_("message field", "From");
    case FIELD_TO:
      return C_("message field", "To");
    case FIELD_CC:
      return C_("message field", "Cc");
    case FIELD_BCC:
      return C_("message field", "Bcc");
    case FIELD_SUBJECT:
      return C_("message field", "Subject");
    default:
      g_assert_not_reached ();
    }
}


typedef struct _DispatchMessageSink DispatchMessageSink;

/* One write of the message: every stream in the GMime tree reports here, so that the first
 * failure — with its real GError — survives GMime's plain -1 return values. Lives on the
 * writer's stack; the tree that points at it is dropped before the writer returns. */
typedef struct
{
  GCancellable        *cancellable;
  GError              *error;
  /* where attachment sources put their base64 lines, past GMime's filters */
  DispatchMessageSink *sink;
} WriteContext;

static void
write_context_fail (WriteContext *ctx,
                    GError       *error)
{
  if (ctx->error == NULL)
    ctx->error = error;
  else
    g_error_free (error);
}

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

/* Takes @cause. Cancellation stays a G_IO_ERROR so that the UI can stay silent about it. */
static GError *
attachment_error (const char *name,
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


/* DispatchMessageSink: the end of the pipeline. Dot-stuffs what GMime writes when asked to,
 * takes the attachments' base64 lines straight into its buffer, and hands the GOutputStream
 * WRITE_CHUNK pieces; or only counts when there is no stream (the size pass).
 *
 * GMime already writes CRLF (GMIME_NEWLINE_FORMAT_DOS) and no longer sees the attachment
 * bodies, so one memchr() pass over the headers and the text is all that is left here. */

struct _DispatchMessageSink
{
  GMimeStream                  parent_instance;

  /* borrowed */
  WriteContext                *ctx;
  DispatchMessageProgressFunc  progress;
  gpointer                     progress_data;

  /* owned */
  GOutputStream               *output;
  guint8                      *buffer;
  gsize                        buffered;

  gboolean                     dot_stuff;
  gboolean                     at_line_start;
  guint64                      written;
  guint64                      reported;
};

typedef struct
{
  GMimeStreamClass parent_class;
} DispatchMessageSinkClass;

static GType dispatch_message_sink_get_type (void);

G_DEFINE_FINAL_TYPE (DispatchMessageSink, dispatch_message_sink, GMIME_TYPE_STREAM)

static void
dispatch_message_sink_report (DispatchMessageSink *self)
{
  if (self->progress != NULL && self->written != self->reported)
    self->progress (self->written, self->progress_data);
  self->reported = self->written;
}

static gboolean
dispatch_message_sink_drain (DispatchMessageSink *self)
{
  GError *error = NULL;

  if (self->buffered == 0)
    return TRUE;

  if (!g_output_stream_write_all (self->output, self->buffer, self->buffered, NULL,
                                  self->ctx->cancellable, &error))
    {
      write_context_fail (self->ctx, error);
      return FALSE;
    }

  self->written += self->buffered;
  self->buffered = 0;
  dispatch_message_sink_report (self);

  return TRUE;
}

static gboolean
dispatch_message_sink_append (DispatchMessageSink *self,
                              const char          *buf,
                              gsize                len)
{
  if (len == 0)
    return TRUE;

  self->at_line_start = buf[len - 1] == '\n';

  if (self->output == NULL)
    {
      self->written += len;
      return TRUE;
    }

  while (len > 0)
    {
      gsize n = MIN (len, WRITE_CHUNK - self->buffered);

      memcpy (self->buffer + self->buffered, buf, n);
      self->buffered += n;
      buf += n;
      len -= n;

      if (self->buffered == WRITE_CHUNK && !dispatch_message_sink_drain (self))
        return FALSE;
    }

  return TRUE;
}

/* RFC 5321 §4.5.2: a line that starts with "." gets another in front. GMime hands over
 * CRLF lines, so a line starts after each LF, and at the very beginning. */
static gboolean
dispatch_message_sink_append_stuffed (DispatchMessageSink *self,
                                      const char          *buf,
                                      gsize                len)
{
  const char *end = buf + len;

  while (buf < end)
    {
      const char *newline = memchr (buf, '\n', end - buf);
      const char *next = newline != NULL ? newline + 1 : end;

      if (self->at_line_start && *buf == '.' && !dispatch_message_sink_append (self, ".", 1))
        return FALSE;
      if (!dispatch_message_sink_append (self, buf, next - buf))
        return FALSE;
      buf = next;
    }

  return TRUE;
}

static ssize_t
dispatch_message_sink_write (GMimeStream *stream,
                             const char  *buf,
                             size_t       len)
{
  DispatchMessageSink *self = (DispatchMessageSink *) stream;
  GError *error = NULL;
  gboolean ok;

  if (self->ctx->error != NULL)
    return -1;

  /* The size pass has no stream to notice cancellation for it. */
  if (g_cancellable_set_error_if_cancelled (self->ctx->cancellable, &error))
    {
      write_context_fail (self->ctx, error);
      return -1;
    }

  if (self->dot_stuff)
    ok = dispatch_message_sink_append_stuffed (self, buf, len);
  else
    ok = dispatch_message_sink_append (self, buf, len);
  if (!ok)
    return -1;

  stream->position += len;

  return len;
}

/* For the attachment sources: the free end of the buffer, to encode whole lines into in
 * place; empty only on a failed drain. Base64 holds no "." and always ends in CRLF, so what
 * goes in this way never needs stuffing. */
static guint8 *
dispatch_message_sink_reserve (DispatchMessageSink *self,
                               gsize               *room)
{
  g_assert (self->output != NULL);

  if (self->buffered == WRITE_CHUNK && !dispatch_message_sink_drain (self))
    {
      *room = 0;
      return NULL;
    }

  *room = WRITE_CHUNK - self->buffered;

  return self->buffer + self->buffered;
}

static gboolean
dispatch_message_sink_commit (DispatchMessageSink *self,
                              gsize                len)
{
  g_assert (self->buffered + len <= WRITE_CHUNK);

  if (len == 0)
    return TRUE;

  self->buffered += len;
  self->at_line_start = self->buffer[self->buffered - 1] == '\n';

  return self->buffered < WRITE_CHUNK || dispatch_message_sink_drain (self);
}

/* The size pass: octets an attachment would have put in, without them. */
static void
dispatch_message_sink_skip (DispatchMessageSink *self,
                            guint64              len)
{
  g_assert (self->output == NULL);

  self->written += len;
  if (len > 0)
    self->at_line_start = TRUE;
}

/* GMime flushes after every header block and part; passing that on would defeat the chunking.
 * The writer drains the buffer itself once the whole message is through. */
static int
dispatch_message_sink_flush (GMimeStream *stream)
{
  return 0;
}

static ssize_t
dispatch_message_sink_read (GMimeStream *stream,
                            char        *buf,
                            size_t       len)
{
  return -1;
}

static int
dispatch_message_sink_close (GMimeStream *stream)
{
  return 0;
}

static gboolean
dispatch_message_sink_eos (GMimeStream *stream)
{
  return FALSE;
}

static int
dispatch_message_sink_reset (GMimeStream *stream)
{
  return -1;
}

static gint64
dispatch_message_sink_seek (GMimeStream     *stream,
                            gint64           offset,
                            GMimeSeekWhence  whence)
{
  return -1;
}

static gint64
dispatch_message_sink_length (GMimeStream *stream)
{
  return -1;
}

static void
dispatch_message_sink_finalize (GObject *object)
{
  DispatchMessageSink *self = (DispatchMessageSink *) object;

  g_clear_object (&self->output);
  g_clear_pointer (&self->buffer, g_free);

  G_OBJECT_CLASS (dispatch_message_sink_parent_class)->finalize (object);
}

static void
dispatch_message_sink_class_init (DispatchMessageSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GMimeStreamClass *stream_class = GMIME_STREAM_CLASS (klass);

  object_class->finalize = dispatch_message_sink_finalize;

  stream_class->read = dispatch_message_sink_read;
  stream_class->write = dispatch_message_sink_write;
  stream_class->flush = dispatch_message_sink_flush;
  stream_class->close = dispatch_message_sink_close;
  stream_class->eos = dispatch_message_sink_eos;
  stream_class->reset = dispatch_message_sink_reset;
  stream_class->seek = dispatch_message_sink_seek;
  stream_class->length = dispatch_message_sink_length;
}

static void
dispatch_message_sink_init (DispatchMessageSink *self)
{
}

static DispatchMessageSink *
dispatch_message_sink_new (GOutputStream               *output,
                           gboolean                     dot_stuff,
                           WriteContext                *ctx,
                           DispatchMessageProgressFunc  progress,
                           gpointer                     progress_data)
{
  DispatchMessageSink *self = g_object_new (dispatch_message_sink_get_type (), NULL);

  g_mime_stream_construct (GMIME_STREAM (self), 0, -1);
  self->ctx = ctx;
  self->progress = progress;
  self->progress_data = progress_data;
  self->dot_stuff = dot_stuff;
  self->at_line_start = TRUE;
  if (output != NULL)
    {
      self->output = g_object_ref (output);
      self->buffer = g_malloc (WRITE_CHUNK);
    }

  return self;
}

static gboolean
dispatch_message_sink_counts_only (DispatchMessageSink *self)
{
  return self->output == NULL;
}

/* After the whole message: what is still buffered goes out, and the last progress call. */
static gboolean
dispatch_message_sink_finish (DispatchMessageSink *self)
{
  if (self->output != NULL && !dispatch_message_sink_drain (self))
    return FALSE;

  dispatch_message_sink_report (self);

  return TRUE;
}


/* Base64 for attachments, written here rather than by GMime: the same lines GMime's encoder
 * and its CRLF filter produce, in a fraction of the time. */

static const char base64_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Lines of 76 characters from 57 octets each, every line ending in CRLF, only the last one
 * shorter; nothing at all for nothing. */
static guint64
base64_wire_size (guint64 size)
{
  guint64 rest = size % BASE64_LINE_RAW;

  return size / BASE64_LINE_RAW * BASE64_LINE_WIRE + (rest > 0 ? (rest + 2) / 3 * 4 + 2 : 0);
}

/* Writes base64_wire_size (@len) octets at @out. Only the end of the input may end a line
 * early, so a block of whole lines continues the one before it. */
static gsize
encode_base64_lines (const guint8 *in,
                     gsize         len,
                     guint8       *out)
{
  guint8 *start = out;

  while (len > 0)
    {
      gsize line = MIN (len, BASE64_LINE_RAW);
      gsize rest = line % 3;
      const guint8 *end = in + (line - rest);

      for (; in < end; in += 3)
        {
          guint32 v = (guint32) in[0] << 16 | (guint32) in[1] << 8 | in[2];

          out[0] = base64_alphabet[v >> 18];
          out[1] = base64_alphabet[(v >> 12) & 0x3f];
          out[2] = base64_alphabet[(v >> 6) & 0x3f];
          out[3] = base64_alphabet[v & 0x3f];
          out += 4;
        }

      if (rest > 0)
        {
          guint32 v = (guint32) in[0] << 16 | (rest == 2 ? (guint32) in[1] << 8 : 0);

          out[0] = base64_alphabet[v >> 18];
          out[1] = base64_alphabet[(v >> 12) & 0x3f];
          out[2] = rest == 2 ? base64_alphabet[(v >> 6) & 0x3f] : '=';
          out[3] = '=';
          out += 4;
          in += rest;
        }

      out[0] = '\r';
      out[1] = '\n';
      out += 2;
      len -= line;
    }

  return out - start;
}


/* Attachment: a file as it was given. The window gives GFiles (file chooser, portal, drag and
 * drop); the command line gives local file names, which are read with plain system calls. A
 * GFile, even for a local file, first makes GIO set up its VFS and register every extension
 * point, whose code lies all over libgio: alone that maps about a megabyte of it, and it
 * still added some 350 KiB to the peak of a whole dispatch-send run. */

/* The private copy of an attachment that cannot be read twice: a pipe (--attach <(…),
 * /dev/stdin), a device, or a file behind GIO's VFS without a local path. The type sniffing,
 * the size pass and the write each read an attachment from its start, which a pipe allows
 * once; so it is read once, at the first _prepare(), into a temporary file of mode 0600 whose
 * name is removed at once: the copy goes with its last descriptor, even after a crash. Read
 * with pread(), so that a preview and a send can read it at the same time. */
typedef struct
{
  int fd;
} Spool;

static void
spool_clear (Spool *spool)
{
  if (spool->fd >= 0)
    g_close (spool->fd, NULL);
}

static void
spool_unref (Spool *spool)
{
  g_atomic_rc_box_release_full (spool, (GDestroyNotify) spool_clear);
}

typedef struct
{
  GFile *file;   /* or */
  char  *path;   /* canonical, in the GLib file name encoding */
  Spool *spool;  /* once read, for a file that cannot be read twice */
  char  *spool_name; /* the display name it had then; the source may be gone since */
} Attachment;

static Attachment *
attachment_copy (const Attachment *attachment)
{
  Attachment *copy = g_new0 (Attachment, 1);

  copy->file = attachment->file != NULL ? g_object_ref (attachment->file) : NULL;
  copy->path = g_strdup (attachment->path);
  copy->spool = attachment->spool != NULL ? g_atomic_rc_box_acquire (attachment->spool) : NULL;
  copy->spool_name = g_strdup (attachment->spool_name);

  return copy;
}

static void
attachment_free (Attachment *attachment)
{
  g_clear_object (&attachment->file);
  g_free (attachment->path);
  g_clear_pointer (&attachment->spool, spool_unref);
  g_free (attachment->spool_name);
  g_free (attachment);
}

/* The local file name an attachment is read from, or NULL for a GFile that has none. */
static const char *
attachment_peek_path (const Attachment *attachment)
{
  return attachment->file != NULL ? g_file_peek_path (attachment->file) : attachment->path;
}

/* The same file, given either way: a GFile for a local file has the canonical path. */
static gboolean
attachment_is (const Attachment *attachment,
               GFile            *file,
               const char       *path)
{
  const char *own_path = attachment->file != NULL ? g_file_peek_path (attachment->file)
                                                  : attachment->path;

  if (file != NULL && attachment->file != NULL)
    return g_file_equal (attachment->file, file);
  if (file != NULL)
    path = g_file_peek_path (file);

  return path != NULL && own_path != NULL && g_str_equal (path, own_path);
}

/* An open attachment: always a file descriptor, the one way attachments are read. A regular
 * file or a spool is read with pread() from @offset; only a pipe, while it is spooled, with
 * read(). */
typedef struct
{
  int      fd;
  gboolean borrowed;   /* the spool's descriptor */
  gboolean seekable;
  guint64  offset;
} AttachmentInput;

#define ATTACHMENT_INPUT_INIT { -1, FALSE, FALSE, 0 }

static void
attachment_input_clear (AttachmentInput *input)
{
  if (input->fd >= 0 && !input->borrowed)
    g_close (input->fd, NULL);
  input->fd = -1;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (AttachmentInput, attachment_input_clear)

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
attachment_input_open_path (AttachmentInput  *input,
                            const char       *path,
                            GCancellable     *cancellable,
                            GError          **error)
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

/* After _prepare(): the spool, or the regular file the attachment names. */
static gboolean
attachment_input_open (AttachmentInput   *input,
                       const Attachment  *attachment,
                       GCancellable      *cancellable,
                       GError           **error)
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

  if (!attachment_input_open_path (input, path, cancellable, error))
    return FALSE;

  /* A regular file at _prepare() that became something else since cannot be read again. */
  if (!input->seekable)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, g_strerror (ESPIPE));
      return FALSE;
    }

  return TRUE;
}

/* Fills @buffer unless the file ends first, like g_input_stream_read_all(). */
static gboolean
attachment_input_read_all (AttachmentInput  *input,
                           guint8           *buffer,
                           gsize             len,
                           gsize            *n_read,
                           GCancellable     *cancellable,
                           GError          **error)
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

/* The length of a regular file or a spool. */
static gboolean
attachment_input_get_size (AttachmentInput *input,
                           guint64         *size)
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
static Spool *
spool_new_from (AttachmentInput  *in,
                GInputStream     *stream,
                GCancellable     *cancellable,
                GError          **error)
{
  g_autofree guint8 *block = g_malloc (SPOOL_BLOCK);
  g_autofree char *tmp_name = NULL;
  g_autoptr(GError) tmp_error = NULL;
  Spool *spool;
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

  spool = g_atomic_rc_box_new0 (Spool);
  spool->fd = fd;

  do
    {
      gboolean ok;

      if (in != NULL)
        ok = attachment_input_read_all (in, block, SPOOL_BLOCK, &n_read, cancellable, error);
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
attachment_make_rereadable (Attachment    *attachment,
                            GCancellable  *cancellable,
                            GError       **error)
{
  g_auto(AttachmentInput) input = ATTACHMENT_INPUT_INIT;
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

  if (!attachment_input_open_path (&input, path, cancellable, error))
    return FALSE;
  if (input.seekable)
    return TRUE;

  attachment->spool = spool_new_from (&input, NULL, cancellable, error);
  return attachment->spool != NULL;
}


/* DispatchAttachmentSource: an attachment's place in the GMime tree. GMime never gets its
 * bytes: when it first asks, the source puts the whole file into the sink itself as base64
 * lines, then says it has ended. The part's content is marked as already base64, so GMime
 * adds no encoder; the CRLF filter it still puts in front sees nothing, and the line end
 * GMime may add to a body of its own goes only to a message's top part, which an attachment
 * never is. So the wire form is what GMime wrote before, byte for byte. In the size pass the
 * source only counts. Read errors name the file. */

typedef struct
{
  GMimeStream   parent_instance;

  /* borrowed */
  WriteContext *ctx;

  /* owned */
  Attachment   *attachment;
  char         *name;
  gboolean      at_end;
} DispatchAttachmentSource;

typedef struct
{
  GMimeStreamClass parent_class;
} DispatchAttachmentSourceClass;

static GType dispatch_attachment_source_get_type (void);

G_DEFINE_FINAL_TYPE (DispatchAttachmentSource, dispatch_attachment_source, GMIME_TYPE_STREAM)

/* Reads the file straight into the sink's buffer and encodes it there, in place: the raw
 * octets of n whole lines (57 each) are read into the end of the room their base64 (78 each)
 * will fill, and the encoder, which takes each group of three octets before it writes its four
 * characters, starts 21·n octets behind its input and gains 21 a line: it never overwrites
 * what it has still to read. So no buffer of its own, and no copy. The one line that straddles
 * two chunks is done the same way in a line-sized buffer. */
static gboolean
dispatch_attachment_source_pour (DispatchAttachmentSource *self,
                                 AttachmentInput          *input)
{
  DispatchMessageSink *sink = self->ctx->sink;
  GError *error = NULL;
  gsize wanted;
  gsize n_read;

  do
    {
      guint8 line[BASE64_LINE_WIRE];
      gsize room;
      guint8 *out = dispatch_message_sink_reserve (sink, &room);
      guint8 *raw;
      gsize lines;
      gsize encoded;

      if (out == NULL)
        return FALSE;

      lines = room / BASE64_LINE_WIRE;
      if (lines == 0)
        {
          out = line;
          lines = 1;
        }
      wanted = lines * BASE64_LINE_RAW;
      raw = out + lines * (BASE64_LINE_WIRE - BASE64_LINE_RAW);

      if (!attachment_input_read_all (input, raw, wanted, &n_read, self->ctx->cancellable,
                                      &error))
        {
          write_context_fail (self->ctx, attachment_error (self->name, error));
          return FALSE;
        }

      encoded = encode_base64_lines (raw, n_read, out);
      if (out == line ? !dispatch_message_sink_append (sink, (const char *) line, encoded)
                      : !dispatch_message_sink_commit (sink, encoded))
        return FALSE;
    }
  while (n_read == wanted);

  return TRUE;
}

/* The size pass: the length of the open file, so that a file gone or locked since
 * _prepare() fails here as it would in the write. */
static gboolean
dispatch_attachment_source_measure (DispatchAttachmentSource *self,
                                    AttachmentInput          *input)
{
  guint64 size = 0;

  if (!attachment_input_get_size (input, &size))
    {
      GError *error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                                           g_strerror (ESPIPE));

      write_context_fail (self->ctx, attachment_error (self->name, error));
      return FALSE;
    }

  dispatch_message_sink_skip (self->ctx->sink, base64_wire_size (size));

  return TRUE;
}

static ssize_t
dispatch_attachment_source_read (GMimeStream *stream,
                                 char        *buf,
                                 size_t       len)
{
  DispatchAttachmentSource *self = (DispatchAttachmentSource *) stream;
  g_auto(AttachmentInput) input = ATTACHMENT_INPUT_INIT;
  GError *error = NULL;
  gboolean ok;

  if (self->ctx->error != NULL)
    return -1;

  if (self->at_end)
    return 0;
  self->at_end = TRUE;

  if (!attachment_input_open (&input, self->attachment, self->ctx->cancellable, &error))
    {
      write_context_fail (self->ctx, attachment_error (self->name, error));
      return -1;
    }

  if (dispatch_message_sink_counts_only (self->ctx->sink))
    ok = dispatch_attachment_source_measure (self, &input);
  else
    ok = dispatch_attachment_source_pour (self, &input);

  return ok ? 0 : -1;
}

static ssize_t
dispatch_attachment_source_write (GMimeStream *stream,
                                  const char  *buf,
                                  size_t       len)
{
  return -1;
}

static int
dispatch_attachment_source_flush (GMimeStream *stream)
{
  return 0;
}

static int
dispatch_attachment_source_close (GMimeStream *stream)
{
  ((DispatchAttachmentSource *) stream)->at_end = TRUE;

  return 0;
}

static gboolean
dispatch_attachment_source_eos (GMimeStream *stream)
{
  return ((DispatchAttachmentSource *) stream)->at_end;
}

/* GMime resets a content stream before and after writing it; the next read starts over. */
static int
dispatch_attachment_source_reset (GMimeStream *stream)
{
  ((DispatchAttachmentSource *) stream)->at_end = FALSE;

  return 0;
}

static gint64
dispatch_attachment_source_seek (GMimeStream     *stream,
                                 gint64           offset,
                                 GMimeSeekWhence  whence)
{
  return -1;
}

static gint64
dispatch_attachment_source_length (GMimeStream *stream)
{
  return -1;
}

static void
dispatch_attachment_source_finalize (GObject *object)
{
  DispatchAttachmentSource *self = (DispatchAttachmentSource *) object;

  g_clear_pointer (&self->attachment, attachment_free);
  g_clear_pointer (&self->name, g_free);

  G_OBJECT_CLASS (dispatch_attachment_source_parent_class)->finalize (object);
}

static void
dispatch_attachment_source_class_init (DispatchAttachmentSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GMimeStreamClass *stream_class = GMIME_STREAM_CLASS (klass);

  object_class->finalize = dispatch_attachment_source_finalize;

  stream_class->read = dispatch_attachment_source_read;
  stream_class->write = dispatch_attachment_source_write;
  stream_class->flush = dispatch_attachment_source_flush;
  stream_class->close = dispatch_attachment_source_close;
  stream_class->eos = dispatch_attachment_source_eos;
  stream_class->reset = dispatch_attachment_source_reset;
  stream_class->seek = dispatch_attachment_source_seek;
  stream_class->length = dispatch_attachment_source_length;
}

static void
dispatch_attachment_source_init (DispatchAttachmentSource *self)
{
}

static GMimeStream *
dispatch_attachment_source_new (const Attachment *attachment,
                                const char       *name,
                                WriteContext     *ctx)
{
  DispatchAttachmentSource *self = g_object_new (dispatch_attachment_source_get_type (), NULL);

  g_mime_stream_construct (GMIME_STREAM (self), 0, -1);
  self->ctx = ctx;
  self->attachment = attachment_copy (attachment);
  self->name = g_strdup (name);

  return GMIME_STREAM (self);
}


/* What _prepare() decided, frozen: every write builds a fresh GMime tree from it, so repeated
 * writes are byte-identical and a write never shares GMime objects with another. */

typedef struct
{
  Attachment *attachment;
  char       *name;       /* display name, UTF-8 */
  char    *mime_type;
  gboolean is_inline;
  guint64  size;          /* at prepare time; only used to decide on truncating a preview */
} AttachmentInfo;

static void
attachment_info_free (AttachmentInfo *info)
{
  g_clear_pointer (&info->attachment, attachment_free);
  g_free (info->name);
  g_free (info->mime_type);
  g_free (info);
}

typedef struct
{
  char                 *from;
  char                 *to;         /* NULL when empty */
  char                 *cc;         /* NULL when empty */
  char                 *subject;    /* NULL when empty */
  GBytes               *text;       /* line ends as text_encoding wants them */
  GMimeContentEncoding  text_encoding;
  GDateTime            *date;
  char                 *message_id; /* without angle brackets */
  char                 *boundary;
  GPtrArray            *attachments;

  char                 *envelope_from;
  GStrv                 envelope_recipients;
  gboolean              needs_8bitmime;
  gboolean              needs_smtputf8;
} Prepared;

static void
prepared_clear (gpointer data)
{
  Prepared *p = data;

  g_free (p->from);
  g_free (p->to);
  g_free (p->cc);
  g_free (p->subject);
  g_clear_pointer (&p->text, g_bytes_unref);
  g_clear_pointer (&p->date, g_date_time_unref);
  g_free (p->message_id);
  g_free (p->boundary);
  g_clear_pointer (&p->attachments, g_ptr_array_unref);
  g_free (p->envelope_from);
  g_strfreev (p->envelope_recipients);
}

static void
prepared_unref (Prepared *p)
{
  g_atomic_rc_box_release_full (p, prepared_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Prepared, prepared_unref)


struct _DispatchMessage
{
  GObject    parent_instance;

  /* owned: the fields as the user typed them */
  char      *from;
  char      *to;
  char      *cc;
  char      *bcc;
  char      *subject;
  char      *text;
  GPtrArray *attachments;   /* Attachment */

  /* owned: the last successful _prepare(); NULL before one or after a failed one */
  Prepared  *prepared;
};

G_DEFINE_FINAL_TYPE (DispatchMessage, dispatch_message, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_FROM,
  PROP_TO,
  PROP_CC,
  PROP_BCC,
  PROP_SUBJECT,
  PROP_TEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static char **
field_slot (DispatchMessage *self,
            guint            prop_id)
{
  switch (prop_id)
    {
    case PROP_FROM:
      return &self->from;
    case PROP_TO:
      return &self->to;
    case PROP_CC:
      return &self->cc;
    case PROP_BCC:
      return &self->bcc;
    case PROP_SUBJECT:
      return &self->subject;
    case PROP_TEXT:
      return &self->text;
    default:
      g_assert_not_reached ();
    }
}

static void
set_field (DispatchMessage *self,
           guint            prop_id,
           const char      *value)
{
  char **slot = field_slot (self, prop_id);

  if (g_strcmp0 (*slot, value) == 0)
    return;

  g_free (*slot);
  *slot = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

static void
dispatch_message_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  DispatchMessage *self = DISPATCH_MESSAGE (object);

  if (prop_id > PROP_0 && prop_id < N_PROPS)
    g_value_set_string (value, *field_slot (self, prop_id));
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
dispatch_message_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  DispatchMessage *self = DISPATCH_MESSAGE (object);

  if (prop_id > PROP_0 && prop_id < N_PROPS)
    set_field (self, prop_id, g_value_get_string (value));
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
dispatch_message_dispose (GObject *object)
{
  DispatchMessage *self = DISPATCH_MESSAGE (object);

  g_clear_pointer (&self->attachments, g_ptr_array_unref);
  g_clear_pointer (&self->prepared, prepared_unref);

  G_OBJECT_CLASS (dispatch_message_parent_class)->dispose (object);
}

static void
dispatch_message_finalize (GObject *object)
{
  DispatchMessage *self = DISPATCH_MESSAGE (object);

  g_free (self->from);
  g_free (self->to);
  g_free (self->cc);
  g_free (self->bcc);
  g_free (self->subject);
  g_free (self->text);

  G_OBJECT_CLASS (dispatch_message_parent_class)->finalize (object);
}

static void
dispatch_message_class_init (DispatchMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = dispatch_message_get_property;
  object_class->set_property = dispatch_message_set_property;
  object_class->dispose = dispatch_message_dispose;
  object_class->finalize = dispatch_message_finalize;

  properties[PROP_FROM] = g_param_spec_string ("from", NULL, NULL, NULL,
                                               G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                               G_PARAM_STATIC_STRINGS);
  properties[PROP_TO] = g_param_spec_string ("to", NULL, NULL, NULL,
                                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                             G_PARAM_STATIC_STRINGS);
  properties[PROP_CC] = g_param_spec_string ("cc", NULL, NULL, NULL,
                                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                             G_PARAM_STATIC_STRINGS);
  properties[PROP_BCC] = g_param_spec_string ("bcc", NULL, NULL, NULL,
                                              G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                              G_PARAM_STATIC_STRINGS);
  properties[PROP_SUBJECT] = g_param_spec_string ("subject", NULL, NULL, NULL,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                                  G_PARAM_STATIC_STRINGS);
  properties[PROP_TEXT] = g_param_spec_string ("text", NULL, NULL, NULL,
                                               G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                               G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* GMime must be set up before the first parser option or stream exists; cheap if done. */
  dispatch_engine_init ();
}

static void
dispatch_message_init (DispatchMessage *self)
{
  self->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) attachment_free);
}

DispatchMessage *
dispatch_message_new (void)
{
  return g_object_new (DISPATCH_TYPE_MESSAGE, NULL);
}

void
dispatch_message_set_from (DispatchMessage *self,
                           const char      *from)
{
  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  set_field (self, PROP_FROM, from);
}

const char *
dispatch_message_get_from (DispatchMessage *self)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), NULL);
  return self->from;
}

void
dispatch_message_set_to (DispatchMessage *self,
                         const char      *to)
{
  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  set_field (self, PROP_TO, to);
}

const char *
dispatch_message_get_to (DispatchMessage *self)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), NULL);
  return self->to;
}

void
dispatch_message_set_cc (DispatchMessage *self,
                         const char      *cc)
{
  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  set_field (self, PROP_CC, cc);
}

const char *
dispatch_message_get_cc (DispatchMessage *self)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), NULL);
  return self->cc;
}

void
dispatch_message_set_bcc (DispatchMessage *self,
                          const char      *bcc)
{
  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  set_field (self, PROP_BCC, bcc);
}

const char *
dispatch_message_get_bcc (DispatchMessage *self)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), NULL);
  return self->bcc;
}

void
dispatch_message_set_subject (DispatchMessage *self,
                              const char      *subject)
{
  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  set_field (self, PROP_SUBJECT, subject);
}

const char *
dispatch_message_get_subject (DispatchMessage *self)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), NULL);
  return self->subject;
}

void
dispatch_message_set_text (DispatchMessage *self,
                           const char      *text)
{
  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  set_field (self, PROP_TEXT, text);
}

const char *
dispatch_message_get_text (DispatchMessage *self)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), NULL);
  return self->text;
}

static gboolean
has_attachment (DispatchMessage *self,
                GFile           *file,
                const char      *path,
                guint           *index)
{
  for (guint i = 0; i < self->attachments->len; i++)
    {
      if (attachment_is (g_ptr_array_index (self->attachments, i), file, path))
        {
          if (index != NULL)
            *index = i;
          return TRUE;
        }
    }

  return FALSE;
}

void
dispatch_message_add_attachment (DispatchMessage *self,
                                 GFile           *file)
{
  Attachment *attachment;

  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  /* Dropping the same file twice on the window should not attach it twice. */
  if (has_attachment (self, file, NULL, NULL))
    return;

  attachment = g_new0 (Attachment, 1);
  attachment->file = g_object_ref (file);
  g_ptr_array_add (self->attachments, attachment);
}

void
dispatch_message_add_attachment_path (DispatchMessage *self,
                                      const char      *path)
{
  g_autofree char *canonical = NULL;
  Attachment *attachment;

  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  g_return_if_fail (path != NULL && path[0] != '\0');

  /* What g_file_new_for_path() would hold: relative to the current folder, without "..". */
  canonical = g_canonicalize_filename (path, NULL);
  if (has_attachment (self, NULL, canonical, NULL))
    return;

  attachment = g_new0 (Attachment, 1);
  attachment->path = g_steal_pointer (&canonical);
  g_ptr_array_add (self->attachments, attachment);
}

void
dispatch_message_remove_attachment (DispatchMessage *self,
                                    GFile           *file)
{
  guint index;

  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  if (has_attachment (self, file, NULL, &index))
    g_ptr_array_remove_index (self->attachments, index);
}

void
dispatch_message_clear_attachments (DispatchMessage *self)
{
  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  g_ptr_array_set_size (self->attachments, 0);
}

guint
dispatch_message_get_n_attachments (DispatchMessage *self)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), 0);
  return self->attachments->len;
}


/* Validation */

static gboolean
is_blank (const char *text)
{
  if (text == NULL)
    return TRUE;

  for (; *text != '\0'; text++)
    if (!g_ascii_isspace (*text))
      return FALSE;

  return TRUE;
}

static gboolean
is_ascii (const char *text,
          gssize      len)
{
  for (gssize i = 0; len < 0 ? text[i] != '\0' : i < len; i++)
    if ((guchar) text[i] >= 0x80)
      return FALSE;

  return TRUE;
}

/* Header injection is refused here, before GMime sees the value: GMime would fold or drop
 * a line break, but the user should learn that the field holds one. A NUL cannot get past
 * the C string boundary of the setters. */
static gboolean
check_header_text (MessageField   field,
                   const char    *value,
                   GError       **error)
{
  if (strpbrk (value, "\r\n") != NULL)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          _("Remove the line break from the field."),
                          _("The “%s” field contains a line break, which a message header cannot hold."),
                          field_label (field));
      return FALSE;
    }

  if (!g_utf8_validate (value, -1, NULL))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          NULL,
                          _("The “%s” field contains text that is not valid UTF-8."),
                          field_label (field));
      return FALSE;
    }

  return TRUE;
}

/* A short, single-line excerpt of what the user typed, for an error message. */
static char *
quote_excerpt (const char *text)
{
  g_autofree char *piece = NULL;
  const char *comma = strchr (text, ',');

  piece = comma != NULL ? g_strndup (text, comma - text) : g_strdup (text);
  g_strstrip (piece);

  if (g_utf8_strlen (piece, -1) > QUOTE_MAX_CHARS)
    {
      g_autofree char *cut = g_utf8_substring (piece, 0, QUOTE_MAX_CHARS);
      return g_strconcat (cut, "…", NULL);
    }

  return g_steal_pointer (&piece);
}

typedef struct
{
  char *bad_item;   /* the first part of the list GMime skipped */
} ParseReport;

/* GMime's list parser skips what it cannot read and goes on; its warning is the only trace
 * of the skipped text, and a skipped recipient must be an error, not a silent drop. */
static void
on_parser_warning (gint64              offset,
                   GMimeParserWarning  code,
                   const char         *item,
                   gpointer            user_data)
{
  ParseReport *report = user_data;

  if (code == GMIME_WARN_INVALID_ADDRESS_LIST && report->bad_item == NULL)
    report->bad_item = g_strdup (item != NULL ? item : "");
}

/* GMime's IDN form of an address (internet_address_mailbox_get_idn_addr(), which it also
 * writes into the headers) is the address itself when the domain is ASCII: libidn2 only
 * lowercases such a domain or refuses it, and GMime keeps the original in both cases. Filling
 * the form in here spares libidn2's Unicode normalisation and mapping tables — about 380 KiB
 * of libunistring a sender would otherwise touch for nothing. Non-ASCII domains are GMime's. */
static void
seed_idn_addresses (InternetAddressList *list)
{
  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);
      InternetAddressMailbox *mailbox;

      if (INTERNET_ADDRESS_IS_GROUP (address))
        {
          seed_idn_addresses (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)));
          continue;
        }

      mailbox = INTERNET_ADDRESS_MAILBOX (address);
      if (mailbox->idn_addr == NULL && mailbox->at > 0 &&
          is_ascii (mailbox->addr + mailbox->at + 1, -1))
        mailbox->idn_addr = g_strdup (mailbox->addr);
    }
}

static InternetAddressList *
parse_address_list (const char  *text,
                    char       **bad_item)
{
  g_autoptr(GMimeParserOptions) options = g_mime_parser_options_new ();
  ParseReport report = { NULL };
  InternetAddressList *list;

  g_mime_parser_options_set_address_compliance_mode (options, GMIME_RFC_COMPLIANCE_STRICT);
  g_mime_parser_options_set_allow_addresses_without_domain (options, FALSE);
  g_mime_parser_options_set_warning_callback (options, on_parser_warning, &report);

  list = internet_address_list_parse (options, text);
  if (list != NULL)
    seed_idn_addresses (list);

  if (bad_item != NULL)
    *bad_item = g_steal_pointer (&report.bad_item);
  g_free (report.bad_item);

  return list;
}

/* GMime decodes whatever looks like an RFC 2047 word in a display name, so a name typed as
 * "=?utf-8?b?QQ0K?=" became a line break. Text is taken literally: "=?" is hidden from the
 * parser behind a private-use character the text does not hold, and put back in every name
 * and address after. */
#define LITERAL_MARK_FIRST 0x10FFFD
#define LITERAL_MARK_LAST  0xF0000

static char *
replace_all (const char *text,
             const char *from,
             const char *to)
{
  g_auto(GStrv) pieces = g_strsplit (text, from, -1);

  return g_strjoinv (to, pieces);
}

static void
unmark_addresses (InternetAddressList *list,
                  const char          *mark)
{
  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);
      const char *name = internet_address_get_name (address);

      if (name != NULL && strstr (name, mark) != NULL)
        {
          g_autofree char *literal = replace_all (name, mark, "=");

          internet_address_set_name (address, literal);
        }

      if (INTERNET_ADDRESS_IS_GROUP (address))
        {
          unmark_addresses (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)), mark);
        }
      else
        {
          InternetAddressMailbox *mailbox = INTERNET_ADDRESS_MAILBOX (address);

          if (strstr (internet_address_mailbox_get_addr (mailbox), mark) != NULL)
            {
              g_autofree char *literal = replace_all (internet_address_mailbox_get_addr (mailbox),
                                                      mark, "=");

              g_clear_pointer (&mailbox->idn_addr, g_free);
              internet_address_mailbox_set_addr (mailbox, literal);
            }
        }
    }
}

static InternetAddressList *
parse_address_list_literally (const char  *text,
                              char       **bad_item)
{
  g_autofree char *marked = NULL;
  g_autofree char *hidden = NULL;
  InternetAddressList *list;
  char mark[8] = { 0 };
  gunichar c;

  if (strstr (text, "=?") == NULL)
    return parse_address_list (text, bad_item);

  for (c = LITERAL_MARK_FIRST; c >= LITERAL_MARK_LAST; c--)
    {
      memset (mark, 0, sizeof mark);
      g_unichar_to_utf8 (c, mark);
      if (strstr (text, mark) == NULL)
        break;
    }
  /* Text that holds every one of these private-use characters is parsed as it is. */
  if (c < LITERAL_MARK_LAST)
    return parse_address_list (text, bad_item);

  hidden = g_strconcat (mark, "?", NULL);
  marked = replace_all (text, "=?", hidden);
  list = parse_address_list (marked, bad_item);
  if (bad_item != NULL && *bad_item != NULL)
    {
      char *literal = replace_all (*bad_item, mark, "=");

      g_free (*bad_item);
      *bad_item = literal;
    }
  if (list != NULL)
    {
      unmark_addresses (list, mark);
      seed_idn_addresses (list);
    }

  return list;
}

static void
set_address_charsets (InternetAddressList *list)
{
  /* Encode non-ASCII display names as UTF-8 words rather than GMime's smallest legacy
   * charset: one charset for the whole message. */
  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);

      internet_address_set_charset (address, "utf-8");
      if (INTERNET_ADDRESS_IS_GROUP (address))
        set_address_charsets (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)));
    }
}

static gboolean
check_mailbox (MessageField             field,
               InternetAddressMailbox  *mailbox,
               gboolean                 allow_utf8_headers,
               gboolean                *uses_utf8,
               GError                 **error)
{
  const char *addr = internet_address_mailbox_get_addr (mailbox);
  const char *idn_addr;
  const char *domain;

  if (mailbox->at <= 0 || addr[mailbox->at + 1] == '\0')
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          _("An address needs a name before the “@” and a domain after it, like ann@example.org."),
                          /* Translators: the first %s is an address, the second a field name */
                          _("“%s” in the “%s” field is not a complete e-mail address."),
                          addr, field_label (field));
      return FALSE;
    }

  /* Non-ASCII domains go out as their ASCII (punycode) form; if that fails, no server can
   * route it. */
  idn_addr = internet_address_mailbox_get_idn_addr (mailbox);
  domain = strrchr (idn_addr, '@');
  if (domain == NULL || !is_ascii (domain + 1, -1))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          NULL,
                          /* Translators: the first %s is an address, the second a field name */
                          _("The domain of “%s” in the “%s” field is not a valid domain name."),
                          addr, field_label (field));
      return FALSE;
    }

  if (domain - idn_addr > MAX_LOCAL_PART || strlen (idn_addr) > MAX_ADDRESS)
    {
      g_autofree char *excerpt = quote_excerpt (addr);

      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          _("An address has at most 64 characters before the “@” and 254 in all."),
                          /* Translators: the first %s is (the start of) an address, the second a field name */
                          _("The address “%s” in the “%s” field is too long."),
                          excerpt, field_label (field));
      return FALSE;
    }

  /* The envelope puts the address between < and > on a command line, which the command
   * builder keeps free of spaces, angle brackets and controls. A quoted local part may hold
   * them ("john smith"@example.org) and is fine in a header, but would only fail at MAIL FROM
   * or RCPT TO, after connecting and signing in: refuse it here, before anything goes out. */
  if (!dispatch_smtp_path_is_valid (idn_addr, TRUE))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          _("Use an address without spaces, angle brackets or control characters before the “@”."),
                          /* Translators: the first %s is an address, the second a field name */
                          _("The address “%s” in the “%s” field cannot be used to send mail."),
                          addr, field_label (field));
      return FALSE;
    }

  if (!is_ascii (addr, mailbox->at))
    {
      if (!allow_utf8_headers)
        {
          dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                              _("Use an address without accents or other special letters before the “@”, or a server that supports SMTPUTF8."),
                              /* Translators: the first %s is an address, the second a field name */
                              _("The address “%s” in the “%s” field needs a mail server with international address support, and this one has none."),
                              addr, field_label (field));
          return FALSE;
        }
      *uses_utf8 = TRUE;
    }

  return TRUE;
}

static gboolean
check_address_list (MessageField          field,
                    InternetAddressList  *list,
                    gboolean              allow_utf8_headers,
                    gboolean             *uses_utf8,
                    GError              **error)
{
  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);

      if (INTERNET_ADDRESS_IS_GROUP (address))
        {
          InternetAddressList *members =
            internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address));
          const char *name = internet_address_get_name (address);

          if (name != NULL && strlen (name) > MAX_GROUP_NAME)
            {
              g_autofree char *excerpt = quote_excerpt (name);

              dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE,
                                  NULL, _("Shorten the group name before the “:”."),
                                  /* Translators: the first %s is (the start of) a group name, the second a field name */
                                  _("The group name “%s” in the “%s” field is too long."),
                                  excerpt, field_label (field));
              return FALSE;
            }
          if (!check_address_list (field, members, allow_utf8_headers, uses_utf8, error))
            return FALSE;
        }
      else if (!check_mailbox (field, INTERNET_ADDRESS_MAILBOX (address), allow_utf8_headers,
                               uses_utf8, error))
        return FALSE;
    }

  return TRUE;
}

/* Parses and validates one address field. A blank field gives a NULL list. */
static gboolean
parse_address_field (MessageField          field,
                     const char           *text,
                     gboolean              allow_utf8_headers,
                     InternetAddressList **out_list,
                     gboolean             *uses_utf8,
                     GError              **error)
{
  g_autoptr(InternetAddressList) list = NULL;
  g_autofree char *bad_item = NULL;

  *out_list = NULL;

  if (is_blank (text))
    return TRUE;

  if (!check_header_text (field, text, error))
    return FALSE;

  list = parse_address_list_literally (text, &bad_item);
  if (list == NULL || bad_item != NULL)
    {
      g_autofree char *excerpt = quote_excerpt (bad_item != NULL ? bad_item : text);

      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          _("Write addresses like ann@example.org or Ann <ann@example.org>, separated by commas."),
                          /* Translators: the first %s is a field name, the second what the user typed */
                          _("The “%s” field contains something that is not an e-mail address: “%s”."),
                          field_label (field), excerpt);
      return FALSE;
    }

  if (!check_address_list (field, list, allow_utf8_headers, uses_utf8, error))
    return FALSE;

  *out_list = g_steal_pointer (&list);

  return TRUE;
}

/* Envelope recipients: mailboxes and group members, in order, each address once. */
static void
collect_recipients (InternetAddressList *list,
                    GHashTable          *seen,
                    GPtrArray           *recipients)
{
  if (list == NULL)
    return;

  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);

      if (INTERNET_ADDRESS_IS_GROUP (address))
        {
          collect_recipients (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)),
                              seen, recipients);
        }
      else
        {
          const char *addr = internet_address_mailbox_get_idn_addr (INTERNET_ADDRESS_MAILBOX (address));
          char *key = g_utf8_casefold (addr, -1);

          if (g_hash_table_add (seen, key))
            g_ptr_array_add (recipients, g_strdup (addr));
        }
    }
}

/* CRLF, CR and LF all become LF; GMime's newline filter turns each into CRLF on the way
 * out. A CR left alone would otherwise reach the wire bare. */
static GString *
normalise_newlines (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));

  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '\r')
        {
          g_string_append_c (out, '\n');
          if (p[1] == '\n')
            p++;
        }
      else
        {
          g_string_append_c (out, *p);
        }
    }

  return out;
}

static GBytes *
lf_to_crlf (const GString *text)
{
  GString *out = g_string_sized_new (text->len + text->len / 32);

  for (gsize i = 0; i < text->len; i++)
    {
      if (text->str[i] == '\n')
        g_string_append_c (out, '\r');
      g_string_append_c (out, text->str[i]);
    }

  return g_string_free_to_bytes (out);
}

static GMimeContentEncoding
choose_text_encoding (GString  *text,
                      gboolean  allow_8bit)
{
  g_autoptr(GMimeFilter) best = g_mime_filter_best_new (GMIME_FILTER_BEST_ENCODING);
  GMimeContentEncoding encoding;
  char *outbuf;
  size_t outlen, outprespace;

  g_mime_filter_complete (best, text->str, text->len, 0, &outbuf, &outlen, &outprespace);
  encoding = g_mime_filter_best_encoding (GMIME_FILTER_BEST (best),
                                          allow_8bit ? GMIME_ENCODING_CONSTRAINT_8BIT
                                                     : GMIME_ENCODING_CONSTRAINT_7BIT);

  /* "Default" means the text may go as it is: 7bit if it is ASCII, else 8bit (which the
   * 7-bit constraint never leaves to us). */
  if (encoding == GMIME_CONTENT_ENCODING_DEFAULT)
    encoding = is_ascii (text->str, text->len) ? GMIME_CONTENT_ENCODING_7BIT
                                               : GMIME_CONTENT_ENCODING_8BIT;

  return encoding;
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

/* Looks at the attachment without loading it: name, size and its first bytes for the type. */
static AttachmentInfo *
inspect_attachment (Attachment    *attachment,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_auto(AttachmentInput) input = ATTACHMENT_INPUT_INIT;
  g_autofree char *content_type = NULL;
  g_autofree char *name = NULL;
  AttachmentInfo *info;
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
      !attachment_make_rereadable (attachment, cancellable, &local_error) ||
      !attachment_input_open (&input, attachment, cancellable, &local_error) ||
      !attachment_input_read_all (&input, head, sizeof head, &head_len, cancellable,
                                  &local_error))
    {
      g_propagate_error (error, attachment_error (name, local_error));
      return NULL;
    }
  if (attachment->spool != NULL && attachment->spool_name == NULL)
    attachment->spool_name = g_strdup (name);

  attachment_input_get_size (&input, &size);

  /* An empty file would sniff as "zero-size"; its name says more. */
  content_type = g_content_type_guess (name, head_len > 0 ? head : NULL, head_len, NULL);
  mime_type = g_content_type_get_mime_type (content_type);

  info = g_new0 (AttachmentInfo, 1);
  info->attachment = attachment_copy (attachment);
  info->name = g_steal_pointer (&name);
  info->mime_type = mime_type != NULL ? mime_type : g_strdup ("application/octet-stream");
  info->is_inline = g_str_has_prefix (info->mime_type, "image/");
  info->size = size;

  return info;
}

/* RFC 5322 §3.6.4: unique on the sender's domain. The domain is the envelope's, ASCII already,
 * and written in lower case as GMime's generator (whose libidn2 pass costs a few hundred KiB
 * of Unicode tables) wrote it. */
static char *
generate_message_id (const char *domain)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *lower = g_ascii_strdown (domain, -1);

  return g_strconcat (uuid, "@", lower, NULL);
}

static char *
generate_boundary (void)
{
  g_autofree char *uuid = g_uuid_string_random ();

  /* "=_" can occur neither in quoted-printable nor in base64 output. */
  return g_strconcat ("=_dispatch_", uuid, NULL);
}

gboolean
dispatch_message_prepare (DispatchMessage  *self,
                          gboolean          allow_8bit,
                          gboolean          allow_utf8_headers,
                          GCancellable     *cancellable,
                          GError          **error)
{
  g_autoptr(Prepared) p = NULL;
  g_autoptr(InternetAddressList) from = NULL;
  g_autoptr(InternetAddressList) to = NULL;
  g_autoptr(InternetAddressList) cc = NULL;
  g_autoptr(InternetAddressList) bcc = NULL;
  g_autoptr(GHashTable) seen = NULL;
  g_autoptr(GPtrArray) recipients = NULL;
  g_autoptr(GString) text = NULL;
  InternetAddress *sender;
  gboolean uses_utf8 = FALSE;
  const char *domain;

  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* A failed prepare must not leave the previous message ready to be sent. */
  g_clear_pointer (&self->prepared, prepared_unref);

  if (is_blank (self->from))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          NULL,
                          _("Enter the sender’s address in the “%s” field."),
                          field_label (FIELD_FROM));
      return FALSE;
    }

  if (!parse_address_field (FIELD_FROM, self->from, allow_utf8_headers, &from, &uses_utf8, error) ||
      !parse_address_field (FIELD_TO, self->to, allow_utf8_headers, &to, &uses_utf8, error) ||
      !parse_address_field (FIELD_CC, self->cc, allow_utf8_headers, &cc, &uses_utf8, error) ||
      !parse_address_field (FIELD_BCC, self->bcc, allow_utf8_headers, &bcc, &uses_utf8, error))
    return FALSE;

  if (internet_address_list_length (from) != 1 ||
      !INTERNET_ADDRESS_IS_MAILBOX (internet_address_list_get_address (from, 0)))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          NULL,
                          _("The “%s” field must hold exactly one address: the sender’s."),
                          field_label (FIELD_FROM));
      return FALSE;
    }
  sender = internet_address_list_get_address (from, 0);

  if (self->subject != NULL && !check_header_text (FIELD_SUBJECT, self->subject, error))
    return FALSE;

  seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  recipients = g_ptr_array_new_with_free_func (g_free);
  collect_recipients (to, seen, recipients);
  collect_recipients (cc, seen, recipients);
  collect_recipients (bcc, seen, recipients);
  if (recipients->len == 0)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          NULL,
                          /* Translators: the %s are the field names To, Cc and Bcc */
                          _("Add at least one recipient in the “%s”, “%s” or “%s” field."),
                          field_label (FIELD_TO), field_label (FIELD_CC), field_label (FIELD_BCC));
      return FALSE;
    }
  g_ptr_array_add (recipients, NULL);

  p = g_atomic_rc_box_new0 (Prepared);
  p->from = g_strdup (self->from);
  p->to = to != NULL ? g_strdup (self->to) : NULL;
  p->cc = cc != NULL ? g_strdup (self->cc) : NULL;
  p->subject = self->subject != NULL && self->subject[0] != '\0' ? g_strdup (self->subject) : NULL;
  p->envelope_from = g_strdup (internet_address_mailbox_get_idn_addr (INTERNET_ADDRESS_MAILBOX (sender)));
  p->envelope_recipients = (GStrv) g_ptr_array_free (g_steal_pointer (&recipients), FALSE);
  p->needs_smtputf8 = uses_utf8;

  text = normalise_newlines (self->text != NULL ? self->text : "");
  if (!g_utf8_validate_len (text->str, text->len, NULL))
    {
      g_autofree char *valid = g_utf8_make_valid (text->str, text->len);
      g_string_assign (text, valid);
    }
  p->text_encoding = choose_text_encoding (text, allow_8bit);
  p->needs_8bitmime = p->text_encoding == GMIME_CONTENT_ENCODING_8BIT;
  /* Base64 carries the text's canonical form, CRLF (RFC 2045 §6.8); the other encodings
   * get their CRLF from the newline filter at write time. */
  if (p->text_encoding == GMIME_CONTENT_ENCODING_BASE64)
    p->text = lf_to_crlf (text);
  else
    p->text = g_bytes_new (text->str, text->len);

  p->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) attachment_info_free);
  for (guint i = 0; i < self->attachments->len; i++)
    {
      AttachmentInfo *info = inspect_attachment (g_ptr_array_index (self->attachments, i),
                                                 cancellable, error);
      if (info == NULL)
        return FALSE;
      g_ptr_array_add (p->attachments, info);
    }

  domain = strrchr (p->envelope_from, '@') + 1;
  p->date = g_date_time_new_now_local ();
  p->message_id = generate_message_id (domain);
  p->boundary = generate_boundary ();

  self->prepared = g_steal_pointer (&p);

  return TRUE;
}

const char *
dispatch_message_get_envelope_from (DispatchMessage *self)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), NULL);
  return self->prepared != NULL ? self->prepared->envelope_from : NULL;
}

const char * const *
dispatch_message_get_envelope_recipients (DispatchMessage *self)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), NULL);
  return self->prepared != NULL ? (const char * const *) self->prepared->envelope_recipients : NULL;
}

gboolean
dispatch_message_needs_8bitmime (DispatchMessage *self)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), FALSE);
  return self->prepared != NULL && self->prepared->needs_8bitmime;
}

gboolean
dispatch_message_needs_smtputf8 (DispatchMessage *self)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), FALSE);
  return self->prepared != NULL && self->prepared->needs_smtputf8;
}


/* Building the GMime tree */

/* RFC 2047 §5 (3): the characters that may stand for themselves in a "Q" encoded word in
 * unstructured text. */
static gboolean
is_q_safe (char c)
{
  return c != '\0' && (g_ascii_isalnum (c) || strchr ("!*+-/", c) != NULL);
}

/* The longest encoded word is 75 characters (RFC 2047 §2), "=?UTF-8?Q?" and "?=" included. */
#define ENCODED_WORD_PAYLOAD (75 - 12)

/* RFC 2047 "Q" encoded words of whole characters (§5) that decode to exactly @text, folded one
 * per line ("\n " between them). GMime writes text that
 * merely looks like an encoded word ("=?utf-8?b?…?=") as it is, so the recipient decoded it
 * (to a line break, say) instead of showing what was typed; this form leaves nothing to
 * take for an encoded word but our own. "Q" rather than "B": readers, GMime among them, join
 * adjacent words before decoding, which base64 padding would break. */
static char *
encode_header_words (const char *text)
{
  GString *out = g_string_new (NULL);
  const char *p = text;

  while (*p != '\0')
    {
      gsize payload = 0;

      g_string_append (out, out->len == 0 ? "=?UTF-8?Q?" : "\n =?UTF-8?Q?");
      while (*p != '\0')
        {
          const char *next = g_utf8_next_char (p);
          gsize need = 0;

          for (const char *c = p; c < next; c++)
            need += *c == ' ' || is_q_safe (*c) ? 1 : 3;
          if (payload > 0 && payload + need > ENCODED_WORD_PAYLOAD)
            break;

          for (; p < next; p++)
            {
              if (*p == ' ')
                g_string_append_c (out, '_');
              else if (is_q_safe (*p))
                g_string_append_c (out, *p);
              else
                g_string_append_printf (out, "=%02X", (guchar) *p);
            }
          payload += need;
        }
      g_string_append (out, "?=");
    }

  return g_string_free (out, FALSE);
}

/* An address as it goes into a header: GMime's form, except that a display name with "=?" is
 * written as our own encoded words (see above), since GMime would write it as it is. */
static void
append_address (GString         *out,
                InternetAddress *address)
{
  const char *name = internet_address_get_name (address);

  if (INTERNET_ADDRESS_IS_GROUP (address))
    {
      InternetAddressList *members = internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address));

      if (name != NULL && strstr (name, "=?") != NULL)
        {
          g_autofree char *words = encode_header_words (name);

          g_string_append (out, words);
        }
      else if (name != NULL)
        {
          g_autofree char *phrase = g_mime_utils_header_encode_phrase (NULL, name, "utf-8");

          g_string_append (out, phrase);
        }
      g_string_append (out, ":");
      for (int i = 0; i < internet_address_list_length (members); i++)
        {
          g_string_append (out, i == 0 ? "\n " : ",\n ");
          append_address (out, internet_address_list_get_address (members, i));
        }
      g_string_append (out, ";");
    }
  else if (name != NULL && strstr (name, "=?") != NULL)
    {
      g_autofree char *words = encode_header_words (name);
      const char *addr = internet_address_mailbox_get_addr (INTERNET_ADDRESS_MAILBOX (address));
      InternetAddress *bare = internet_address_mailbox_new (NULL, addr);
      g_autofree char *spec = internet_address_to_string (bare, NULL, TRUE);

      g_object_unref (bare);
      g_string_append_printf (out, "%s\n <%s>", words, spec);
    }
  else
    {
      g_autofree char *text = internet_address_to_string (address, NULL, TRUE);

      g_string_append (out, text);
    }
}

static gboolean
has_literal_word (InternetAddressList *list)
{
  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);
      const char *name = internet_address_get_name (address);

      if (name != NULL && strstr (name, "=?") != NULL)
        return TRUE;
      if (INTERNET_ADDRESS_IS_GROUP (address) &&
          has_literal_word (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address))))
        return TRUE;
    }

  return FALSE;
}

static void
add_addresses (GMimeMessage     *message,
               GMimeAddressType  type,
               const char       *text)
{
  g_autoptr(InternetAddressList) list = NULL;

  if (text == NULL)
    return;

  /* Parsed again from the text _prepare() validated, so no GMime object is shared between
   * writes; the result is the same list. */
  list = parse_address_list_literally (text, NULL);
  g_return_if_fail (list != NULL);

  set_address_charsets (list);
  internet_address_list_append (g_mime_message_get_addresses (message, type), list);

  if (has_literal_word (list))
    {
      static const char * const names[] = { "Sender", "From", "Reply-To", "To", "Cc", "Bcc" };
      GMimeHeader *header = g_mime_header_list_get_header (g_mime_object_get_header_list (GMIME_OBJECT (message)),
                                                           names[type]);
      g_autoptr(GString) raw = g_string_new (NULL);

      for (int i = 0; i < internet_address_list_length (list); i++)
        {
          g_string_append (raw, i == 0 ? " " : ",\n ");
          append_address (raw, internet_address_list_get_address (list, i));
        }
      g_string_append_c (raw, '\n');
      g_mime_header_set_raw_value (header, raw->str);
    }
}

/* For "View message source": the first whole lines of the encoded attachment and a note.
 * The part then carries content GMime takes as already encoded and writes as it is. */
static GMimeDataWrapper *
preview_content (AttachmentInfo  *info,
                 gsize            max_bytes,
                 GCancellable    *cancellable,
                 GError         **error)
{
  g_auto(AttachmentInput) input = ATTACHMENT_INPUT_INIT;
  g_autofree guint8 *raw = NULL;
  g_autofree char *encoded = NULL;
  g_autofree char *size = NULL;
  g_autoptr(GString) text = NULL;
  g_autoptr(GMimeStream) stream = NULL;
  gsize raw_len = max_bytes / BASE64_LINE_WIRE * BASE64_LINE_RAW;
  gsize n_read = 0;
  gsize n_encoded;
  guint32 save = 0;
  int state = 0;
  GError *local_error = NULL;

  raw = g_malloc (MAX (raw_len, 1));
  if (!attachment_input_open (&input, info->attachment, cancellable, &local_error) ||
      !attachment_input_read_all (&input, raw, raw_len, &n_read, cancellable, &local_error))
    {
      g_propagate_error (error, attachment_error (info->name, local_error));
      return NULL;
    }

  encoded = g_malloc (GMIME_BASE64_ENCODE_LEN (n_read));
  n_encoded = g_mime_encoding_base64_encode_close (raw, n_read, (guchar *) encoded, &state, &save);

  size = g_format_size (info->size);
  text = g_string_new_len (encoded, n_encoded);
  g_string_append_printf (text,
                          /* Translators: shown in the message source in place of the rest of
                           * a large attachment; %s is its size, e.g. “20.1 MB” */
                          _("[… the rest of this attachment (%s in all) is not shown here …]"),
                          size);
  g_string_append_c (text, '\n');

  stream = g_mime_stream_mem_new_with_buffer (text->str, text->len);

  return g_mime_data_wrapper_new_with_stream (stream, GMIME_CONTENT_ENCODING_BASE64);
}

/* RFC 2231 §7 attribute-char: what a parameter value may carry without %-encoding. */
static gboolean
is_attribute_char (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$&+-.^_`|~", c) != NULL);
}

/* One parameter, RFC 2231-encoded as UTF-8 and cut into numbered sections so that no line
 * grows long: "\tname*0*=utf-8''…;\n\tname*1*=…". */
static char *
encode_rfc2231_parameter (const char *name,
                          const char *value)
{
  GString *out = g_string_new (NULL);
  guint section = 0;
  gsize line_start = 0;

  g_string_append_printf (out, "\t%s*0*=utf-8''", name);
  for (const char *p = value; *p != '\0'; p++)
    {
      if (out->len - line_start > 64)
        {
          g_string_append_printf (out, ";\n\t%s*%u*=", name, ++section);
          line_start = out->len;
        }
      if (is_attribute_char (*p))
        g_string_append_c (out, *p);
      else
        g_string_append_printf (out, "%%%02X", (guchar) *p);
    }

  return g_string_free (out, FALSE);
}

/* GMime writes an ASCII file name as a quoted string as it is, and readers (GMime among them)
 * decode what looks like an RFC 2047 word in it: a name with "=?" goes RFC 2231-encoded
 * instead, which no reader takes for an encoded word. */
static void
set_literal_file_name (GMimeObject *part,
                       const char  *header_name,
                       const char  *value,
                       const char  *parameter,
                       const char  *file_name)
{
  GMimeHeader *header = g_mime_header_list_get_header (g_mime_object_get_header_list (part), header_name);
  g_autofree char *encoded = encode_rfc2231_parameter (parameter, file_name);
  g_autofree char *raw = g_strdup_printf (" %s;\n%s\n", value, encoded);

  g_mime_header_set_raw_value (header, raw);
}

static GMimeObject *
build_attachment_part (AttachmentInfo  *info,
                       WriteContext    *ctx,
                       gsize            preview_limit,
                       GError         **error)
{
  g_autoptr(GMimePart) part = g_mime_part_new ();
  g_autoptr(GMimeContentType) content_type = NULL;
  g_autoptr(GMimeDataWrapper) content = NULL;

  content_type = g_mime_content_type_parse (NULL, info->mime_type);
  g_mime_object_set_content_type (GMIME_OBJECT (part), content_type);
  g_mime_object_set_disposition (GMIME_OBJECT (part), info->is_inline ? "inline" : "attachment");
  /* GMime writes a non-ASCII name as an RFC 2231 parameter (filename*=utf-8''…). */
  g_mime_part_set_filename (part, info->name);
  g_mime_part_set_content_encoding (part, GMIME_CONTENT_ENCODING_BASE64);

  if (preview_limit > 0 && base64_wire_size (info->size) > preview_limit)
    {
      content = preview_content (info, preview_limit, ctx->cancellable, error);
      if (content == NULL)
        return NULL;
    }
  else
    {
      g_autoptr(GMimeStream) source = dispatch_attachment_source_new (info->attachment, info->name, ctx);

      /* "Already base64": the source writes its own lines, and GMime must not encode. */
      content = g_mime_data_wrapper_new_with_stream (source, GMIME_CONTENT_ENCODING_BASE64);
    }

  g_mime_part_set_content (part, content);

  if (strstr (info->name, "=?") != NULL)
    {
      set_literal_file_name (GMIME_OBJECT (part), "Content-Type", info->mime_type, "name", info->name);
      set_literal_file_name (GMIME_OBJECT (part), "Content-Disposition",
                             info->is_inline ? "inline" : "attachment", "filename", info->name);
    }

  return GMIME_OBJECT (g_steal_pointer (&part));
}

static GMimeMessage *
build_message (Prepared      *p,
               WriteContext  *ctx,
               gsize          preview_limit,
               GError       **error)
{
  g_autoptr(GMimeMessage) message = g_mime_message_new (FALSE);
  g_autoptr(GMimeTextPart) text = g_mime_text_part_new_with_subtype ("plain");
  g_autoptr(GMimeStream) text_stream = NULL;
  g_autoptr(GMimeDataWrapper) text_content = NULL;
  g_autofree char *message_id = g_strdup_printf ("<%s>", p->message_id);
  GMimeObject *object = GMIME_OBJECT (message);
  gsize text_len;
  const guint8 *text_data = g_bytes_get_data (p->text, &text_len);

  add_addresses (message, GMIME_ADDRESS_TYPE_FROM, p->from);
  add_addresses (message, GMIME_ADDRESS_TYPE_TO, p->to);
  add_addresses (message, GMIME_ADDRESS_TYPE_CC, p->cc);
  if (p->subject != NULL)
    {
      g_mime_message_set_subject (message, p->subject, "utf-8");
      if (strstr (p->subject, "=?") != NULL)
        {
          g_autofree char *words = encode_header_words (p->subject);
          g_autofree char *raw = g_strconcat (" ", words, "\n", NULL);
          GMimeHeader *header = g_mime_header_list_get_header (g_mime_object_get_header_list (object),
                                                               "Subject");

          g_mime_header_set_raw_value (header, raw);
        }
    }
  g_mime_message_set_date (message, p->date);
  g_mime_object_append_header (object, "Message-ID", message_id, NULL);
  g_mime_object_append_header (object, "User-Agent", "Dispatch/" PACKAGE_VERSION, NULL);
  g_mime_object_append_header (object, "MIME-Version", "1.0", NULL);

  g_mime_object_set_content_type_parameter (GMIME_OBJECT (text), "charset", "utf-8");
  /* An empty text is a NULL pointer from GBytes, which GMime's buffer constructor refuses. */
  text_stream = text_len > 0 ? g_mime_stream_mem_new_with_buffer ((const char *) text_data, text_len)
                             : g_mime_stream_mem_new ();
  text_content = g_mime_data_wrapper_new_with_stream (text_stream, GMIME_CONTENT_ENCODING_DEFAULT);
  g_mime_part_set_content (GMIME_PART (text), text_content);
  g_mime_part_set_content_encoding (GMIME_PART (text), p->text_encoding);

  if (p->attachments->len == 0)
    {
      g_mime_message_set_mime_part (message, GMIME_OBJECT (text));
    }
  else
    {
      g_autoptr(GMimeMultipart) mixed = g_mime_multipart_new_with_subtype ("mixed");

      g_mime_multipart_set_boundary (mixed, p->boundary);
      g_mime_multipart_add (mixed, GMIME_OBJECT (text));

      for (guint i = 0; i < p->attachments->len; i++)
        {
          g_autoptr(GMimeObject) part = build_attachment_part (g_ptr_array_index (p->attachments, i),
                                                               ctx, preview_limit, error);
          if (part == NULL)
            return NULL;
          g_mime_multipart_add (mixed, part);
        }

      g_mime_message_set_mime_part (message, GMIME_OBJECT (mixed));
    }

  return g_steal_pointer (&message);
}

/* The one writer behind _write(), _get_size(), _write_to_file() and _to_string(), so their
 * bytes cannot drift apart. @output NULL only counts: GMime still writes everything but the
 * attachment bodies, whose length follows from the files' sizes. */
static gboolean
write_message (DispatchMessage             *self,
               GOutputStream               *output,
               gboolean                     dot_stuff,
               gsize                        preview_limit,
               DispatchMessageProgressFunc  progress,
               gpointer                     progress_data,
               guint64                     *out_size,
               GCancellable                *cancellable,
               GError                     **error)
{
  g_autoptr(Prepared) p = g_atomic_rc_box_acquire (self->prepared);
  WriteContext ctx = { cancellable, NULL, NULL };
  GMimeMessage *message;
  DispatchMessageSink *sink;
  GMimeFormatOptions *options;
  gboolean ok;

  message = build_message (p, &ctx, preview_limit, error);
  if (message == NULL)
    return FALSE;

  sink = dispatch_message_sink_new (output, dot_stuff, &ctx, progress, progress_data);
  ctx.sink = sink;

  options = g_mime_format_options_new ();
  g_mime_format_options_set_newline_format (options, GMIME_NEWLINE_FORMAT_DOS);

  /* GMime ignores some of its own flush results, so success also needs a clean context. */
  ok = g_mime_object_write_to_stream (GMIME_OBJECT (message), options, GMIME_STREAM (sink)) != -1 &&
       ctx.error == NULL &&
       dispatch_message_sink_finish (sink);

  if (out_size != NULL)
    *out_size = sink->written;

  /* Nothing may point at ctx once this returns. */
  g_mime_format_options_free (options);
  g_object_unref (sink);
  g_object_unref (message);

  if (!ok)
    {
      if (ctx.error != NULL)
        g_propagate_error (error, ctx.error);
      else
        dispatch_set_error (error, DISPATCH_ERROR_FAILED, DISPATCH_SMTP_STAGE_MESSAGE, NULL, NULL,
                            _("The message could not be written."));
    }

  return ok;
}

guint64
dispatch_message_get_size (DispatchMessage  *self,
                           GCancellable     *cancellable,
                           GError          **error)
{
  guint64 size = 0;

  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), 0);
  g_return_val_if_fail (self->prepared != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (!write_message (self, NULL, FALSE, 0, NULL, NULL, &size, cancellable, error))
    return 0;

  return size;
}

gboolean
dispatch_message_write (DispatchMessage             *self,
                        GOutputStream               *stream,
                        gboolean                     dot_stuff,
                        DispatchMessageProgressFunc  progress,
                        gpointer                     progress_data,
                        GCancellable                *cancellable,
                        GError                     **error)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (self->prepared != NULL, FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (stream), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return write_message (self, stream, dot_stuff, 0, progress, progress_data, NULL,
                        cancellable, error);
}

gboolean
dispatch_message_write_to_file (DispatchMessage  *self,
                                GFile            *file,
                                GCancellable     *cancellable,
                                GError          **error)
{
  g_autoptr(GFileOutputStream) output = NULL;
  g_autoptr(GCancellable) abandon = NULL;
  gboolean existed;

  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (self->prepared != NULL, FALSE);
  g_return_val_if_fail (G_IS_FILE (file), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  existed = g_file_query_exists (file, cancellable);
  output = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION, cancellable,
                           error);
  if (output == NULL)
    return FALSE;

  if (write_message (self, G_OUTPUT_STREAM (output), FALSE, 0, NULL, NULL, NULL, cancellable,
                     error))
    return g_output_stream_close (G_OUTPUT_STREAM (output), cancellable, error);

  /* Closing with a cancelled cancellable abandons the replacement and keeps an older file;
   * a file this call created would otherwise stay behind half-written. */
  abandon = g_cancellable_new ();
  g_cancellable_cancel (abandon);
  g_output_stream_close (G_OUTPUT_STREAM (output), abandon, NULL);
  if (!existed)
    g_file_delete (file, NULL, NULL);

  return FALSE;
}

char *
dispatch_message_to_string (DispatchMessage  *self,
                            gsize             max_attachment_bytes,
                            GError          **error)
{
  g_autoptr(GOutputStream) output = NULL;

  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), NULL);
  g_return_val_if_fail (self->prepared != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  output = g_memory_output_stream_new_resizable ();
  if (!write_message (self, output, FALSE, max_attachment_bytes, NULL, NULL, NULL, NULL, error) ||
      !g_output_stream_write_all (output, "", 1, NULL, NULL, error) ||
      !g_output_stream_close (output, NULL, error))
    return NULL;

  return g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (output));
}
