/* dispatch-attachment-private.h — an attached file, and the one way it is read: a file descriptor.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The bottom of the message files: it knows files, GIO and the error domain, nothing of GMime
 * or of the message. The attachment source reads through it while writing, the model while
 * preparing, the builder for a preview.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A file as it was given. The window gives GFiles (file chooser, portal, drag and drop); the
 * command line gives local file names, which are read with plain system calls. A GFile, even
 * for a local file, first makes GIO set up its VFS and register every extension point, whose
 * code lies all over libgio: alone that maps about a megabyte of it, and it still added some
 * 350 KiB to the peak of a whole dispatch-send run. */
typedef struct _DispatchAttachmentSpool DispatchAttachmentSpool;

typedef struct
{
  GFile                   *file;       /* or */
  char                    *path;       /* canonical, in the GLib file name encoding */
  DispatchAttachmentSpool *spool;      /* once read, for a file that cannot be read twice */
  char                    *spool_name; /* the display name it had then; the source may be gone since */
} DispatchAttachment;

DispatchAttachment *dispatch_attachment_new_for_file (GFile *file);
/* Takes @canonical_path. */
DispatchAttachment *dispatch_attachment_new_for_path (char *canonical_path);
DispatchAttachment *dispatch_attachment_copy         (const DispatchAttachment *attachment);
void                dispatch_attachment_free         (DispatchAttachment *attachment);
/* The same file, given either way: a GFile for a local file has the canonical path. */
gboolean            dispatch_attachment_is           (const DispatchAttachment *attachment,
                                                      GFile                    *file,
                                                      const char               *path);

/* Takes @cause, and names the file in a DISPATCH_ERROR_FILE error. Cancellation stays a
 * G_IO_ERROR so that the UI can stay silent about it. */
GError             *dispatch_attachment_error        (const char *name,
                                                      GError     *cause);

/* An open attachment: always a file descriptor, the one way attachments are read. A regular
 * file or a spool is read with pread() from @offset; only a pipe, while it is spooled, with
 * read(). */
typedef struct
{
  int      fd;
  gboolean borrowed;   /* the spool's descriptor */
  gboolean seekable;
  guint64  offset;
} DispatchAttachmentInput;

#define DISPATCH_ATTACHMENT_INPUT_INIT { -1, FALSE, FALSE, 0 }

void     dispatch_attachment_input_clear    (DispatchAttachmentInput *input);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DispatchAttachmentInput, dispatch_attachment_input_clear)

/* After _prepare(): the spool, or the regular file the attachment names. */
gboolean dispatch_attachment_input_open     (DispatchAttachmentInput   *input,
                                             const DispatchAttachment  *attachment,
                                             GCancellable              *cancellable,
                                             GError                   **error);
/* Fills @buffer unless the file ends first, like g_input_stream_read_all(). */
gboolean dispatch_attachment_input_read_all (DispatchAttachmentInput  *input,
                                             guint8                   *buffer,
                                             gsize                     len,
                                             gsize                    *n_read,
                                             GCancellable             *cancellable,
                                             GError                  **error);
/* The length of a regular file or a spool; FALSE for anything else. */
gboolean dispatch_attachment_input_get_size (DispatchAttachmentInput *input,
                                             guint64                 *size);

/* What _prepare() learnt of an attachment, frozen with the rest of the prepared message. */
typedef struct
{
  DispatchAttachment *attachment;
  char               *name;       /* display name, UTF-8, safe in a part header */
  char               *mime_type;
  gboolean            is_inline;
  guint64             size;       /* at prepare time; only used to decide on truncating a preview */
} DispatchAttachmentInfo;

/* At _prepare(): looks at the attachment without loading it — name, size and its first bytes
 * for the type — and makes it readable from its start as often as the writer needs (a pipe is
 * spooled, once). Errors name the file. */
DispatchAttachmentInfo *dispatch_attachment_inspect   (DispatchAttachment  *attachment,
                                                       GCancellable        *cancellable,
                                                       GError             **error);
void                    dispatch_attachment_info_free (DispatchAttachmentInfo *info);

G_END_DECLS
