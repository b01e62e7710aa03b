/* dispatch-message.c — the e-mail being composed: fields, attachments, _prepare(), the writers.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The model holds what the user typed; _prepare() judges it with the checks and freezes the
 * result, from which the builder writes. The message files by job, each using only those
 * below it (their -private.h headers say what they share):
 *
 *   dispatch-message.c               the model: fields, attachments, _prepare(), the writers
 *   dispatch-message-builder.c       a prepared message as a GMime tree, written in one pass
 *   dispatch-attachment-source.c     an attachment part's body: the file as base64, in place
 *   dispatch-message-sink.c          the wire end: dot-stuffing, 64 KiB chunks, progress
 *   dispatch-attachment.c            the file: named, sniffed, spooled, read by descriptor
 *   dispatch-message-checks.c        the one address and header grammar (GMime's parser)
 *   dispatch-message-idn.c           ASCII tests and the IDN form of addresses
 *
 * The model uses the builder, the checks and the attachment; the builder the attachment
 * source, the sink and the checks' parser; the source the sink and the attachment. The
 * sink, the attachment and the IDN helpers use nothing of the message.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "dispatch-attachment-private.h"
#include "dispatch-engine.h"
#include "dispatch-error.h"
#include "dispatch-gmime-private.h"
#include "dispatch-message-builder-private.h"
#include "dispatch-message-checks-private.h"
#include "dispatch-message-idn-private.h"
#include "dispatch-message.h"

struct _DispatchMessage
{
  GObject                  parent_instance;

  /* owned: the fields as the user typed them */
  char                    *from;
  char                    *to;
  char                    *cc;
  char                    *bcc;
  char                    *subject;
  char                    *text;
  GPtrArray               *attachments;   /* DispatchAttachment */

  /* owned: the last successful _prepare(); NULL before one or after a failed one */
  DispatchMessagePrepared *prepared;
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
  g_clear_pointer (&self->prepared, dispatch_message_prepared_unref);

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
  self->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) dispatch_attachment_free);
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
      if (dispatch_attachment_is (g_ptr_array_index (self->attachments, i), file, path))
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
  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  /* Dropping the same file twice on the window should not attach it twice. */
  if (has_attachment (self, file, NULL, NULL))
    return;

  g_ptr_array_add (self->attachments, dispatch_attachment_new_for_file (file));
}

void
dispatch_message_add_attachment_path (DispatchMessage *self,
                                      const char      *path)
{
  g_autofree char *canonical = NULL;

  g_return_if_fail (DISPATCH_IS_MESSAGE (self));
  g_return_if_fail (path != NULL && path[0] != '\0');

  /* What g_file_new_for_path() would hold: relative to the current folder, without "..". */
  canonical = g_canonicalize_filename (path, NULL);
  if (has_attachment (self, NULL, canonical, NULL))
    return;

  g_ptr_array_add (self->attachments, dispatch_attachment_new_for_path (g_steal_pointer (&canonical)));
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

char *
dispatch_message_normalize_newlines (const char *text)
{
  g_return_val_if_fail (text != NULL, NULL);

  return g_string_free (normalise_newlines (text), FALSE);
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
    encoding = dispatch_message_is_ascii (text->str, text->len) ? GMIME_CONTENT_ENCODING_7BIT
                                               : GMIME_CONTENT_ENCODING_8BIT;

  return encoding;
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
  g_autoptr(DispatchMessagePrepared) p = NULL;
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
  g_clear_pointer (&self->prepared, dispatch_message_prepared_unref);

  if (dispatch_message_is_blank (self->from))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          NULL,
                          _("Enter the sender’s address in the “%s” field."),
                          dispatch_message_field_label (FIELD_FROM));
      return FALSE;
    }

  if (!dispatch_message_parse_address_field (FIELD_FROM, self->from, allow_utf8_headers, &from, &uses_utf8, error) ||
      !dispatch_message_parse_address_field (FIELD_TO, self->to, allow_utf8_headers, &to, &uses_utf8, error) ||
      !dispatch_message_parse_address_field (FIELD_CC, self->cc, allow_utf8_headers, &cc, &uses_utf8, error) ||
      !dispatch_message_parse_address_field (FIELD_BCC, self->bcc, allow_utf8_headers, &bcc, &uses_utf8, error))
    return FALSE;

  if (internet_address_list_length (from) != 1 ||
      !INTERNET_ADDRESS_IS_MAILBOX (internet_address_list_get_address (from, 0)))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          NULL,
                          _("The “%s” field must hold exactly one address: the sender’s."),
                          dispatch_message_field_label (FIELD_FROM));
      return FALSE;
    }
  sender = internet_address_list_get_address (from, 0);

  if (self->subject != NULL && !dispatch_message_check_header_text (FIELD_SUBJECT, self->subject, error))
    return FALSE;

  seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  recipients = g_ptr_array_new_with_free_func (g_free);
  dispatch_message_collect_recipients (to, seen, recipients);
  dispatch_message_collect_recipients (cc, seen, recipients);
  dispatch_message_collect_recipients (bcc, seen, recipients);
  if (recipients->len == 0)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          NULL,
                          /* Translators: the %s are the field names To, Cc and Bcc */
                          _("Add at least one recipient in the “%s”, “%s” or “%s” field."),
                          dispatch_message_field_label (FIELD_TO), dispatch_message_field_label (FIELD_CC), dispatch_message_field_label (FIELD_BCC));
      return FALSE;
    }
  g_ptr_array_add (recipients, NULL);

  p = g_atomic_rc_box_new0 (DispatchMessagePrepared);
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

  p->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) dispatch_attachment_info_free);
  for (guint i = 0; i < self->attachments->len; i++)
    {
      DispatchAttachmentInfo *info = dispatch_attachment_inspect (g_ptr_array_index (self->attachments, i),
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

guint64
dispatch_message_get_size (DispatchMessage  *self,
                           GCancellable     *cancellable,
                           GError          **error)
{
  guint64 size = 0;

  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), 0);
  g_return_val_if_fail (self->prepared != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (!dispatch_message_builder_write (self->prepared, NULL, FALSE, 0, NULL, NULL, &size,
                                       cancellable, error))
    return 0;

  return size;
}

gboolean
dispatch_message_write (DispatchMessage              *self,
                        GOutputStream                *stream,
                        gboolean                      dot_stuff,
                        DispatchMessageProgressFunc   progress,
                        gpointer                      progress_data,
                        GCancellable                 *cancellable,
                        GError                      **error)
{
  g_return_val_if_fail (DISPATCH_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (self->prepared != NULL, FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (stream), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return dispatch_message_builder_write (self->prepared, stream, dot_stuff, 0, progress,
                                         progress_data, NULL, cancellable, error);
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

  if (dispatch_message_builder_write (self->prepared, G_OUTPUT_STREAM (output), FALSE, 0, NULL,
                                      NULL, NULL, cancellable, error))
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
  if (!dispatch_message_builder_write (self->prepared, output, FALSE, max_attachment_bytes, NULL,
                                       NULL, NULL, NULL, error) ||
      !g_output_stream_write_all (output, "", 1, NULL, NULL, error) ||
      !g_output_stream_close (output, NULL, error))
    return NULL;

  return g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (output));
}
