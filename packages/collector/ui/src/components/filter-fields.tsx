// The fields of a view's filter form. Each field is one query parameter of the view's URL:
// it shows `filters[name]` and hands every change to `set`, which navigates.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';

type Filters = Record<string, string | undefined>;
type SetFilter = (name: string, value: string | undefined) => void;

interface FieldProps {
  label: string;
  name: string;
  filters: Filters;
  set: SetFilter;
}

/** A text, search, number or date-time field. */
export function InputFilter({
  label,
  name,
  filters,
  set,
  type = 'text',
  placeholder,
  min,
}: FieldProps & {
  type?: 'text' | 'search' | 'number' | 'datetime-local';
  placeholder?: string;
  min?: string;
}) {
  // preact types the attributes of each input type apart: a union of types is none of them.
  const attributes = { type, placeholder, min } as JSX.IntrinsicElements['input'];
  // What is typed lives here until Enter or leaving the field commits it to the URL: the
  // views re-render on every refresh, and a field bound to the URL alone would be reset to
  // the committed value each time, erasing the text being typed.
  const committed = filters[name] ?? '';
  const [draft, setDraft] = useState(committed);
  // The URL changed under the field (Clear filters, back, a link): show the new value.
  useEffect(() => setDraft(committed), [committed]);
  return (
    <label>
      {label}
      <input
        name={name}
        {...attributes}
        value={draft}
        onInput={(e) => setDraft((e.currentTarget as HTMLInputElement).value)}
        onChange={(e) => set(name, (e.currentTarget as HTMLInputElement).value)}
      />
    </label>
  );
}

/** A choice among `options`: [value, text] pairs, the first one usually `''` for "any". */
export function SelectFilter({
  label,
  name,
  filters,
  set,
  options,
}: FieldProps & { options: ReadonlyArray<readonly [value: string, text: string]> }) {
  return (
    <label>
      {label}
      <select
        name={name}
        value={filters[name] ?? ''}
        onChange={(e) => set(name, (e.currentTarget as HTMLSelectElement).value)}
      >
        {options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}
