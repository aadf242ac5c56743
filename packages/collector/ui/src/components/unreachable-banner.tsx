import { useReachability } from '../api.js';
import { formatTime } from '../format.js';

// Says, on every view, that the collector stopped answering: the lists on screen then show
// what was loaded before, and keep trying; the banner goes once an answer comes back.

export function UnreachableBanner() {
  const since = useReachability();
  if (since === null) return null;
  return (
    <div class="banner unreachable" role="alert" data-testid="unreachable">
      <strong>The collector at {window.location.host} cannot be reached</strong> (since{' '}
      {formatTime(since * 1000)}). What is on screen was loaded before then; the page keeps trying
      and updates as soon as the collector answers. Is <code>raceway serve</code> still running?
    </div>
  );
}
