/**
 * The typeahead's "server": a search over a list of rivers that answers after a random latency
 * (seeded, so a run is repeatable). It lives in the page, so the example needs no network.
 */

const RIVERS = [
  'Amazon',
  'Amur',
  'Arkansas',
  'Brahmaputra',
  'Colorado',
  'Columbia',
  'Congo',
  'Danube',
  'Darling',
  'Delaware',
  'Dnieper',
  'Don',
  'Douro',
  'Drava',
  'Ebro',
  'Elbe',
  'Euphrates',
  'Fraser',
  'Ganges',
  'Garonne',
  'Guadalquivir',
  'Hudson',
  'Indus',
  'Irrawaddy',
  'Jordan',
  'Kama',
  'Lena',
  'Limpopo',
  'Loire',
  'Mackenzie',
  'Madeira',
  'Magdalena',
  'Mekong',
  'Meuse',
  'Mississippi',
  'Missouri',
  'Murray',
  'Neva',
  'Niger',
  'Nile',
  'Ob',
  'Oder',
  'Ohio',
  'Oka',
  'Orange',
  'Orinoco',
  'Paraguay',
  'Paraná',
  'Pearl River',
  'Po',
  'Potomac',
  'Purus',
  'Red River',
  'Rhine',
  'Rhône',
  'Rio Grande',
  'Rio Negro',
  'Sacramento',
  'Salween',
  'São Francisco',
  'Sava',
  'Seine',
  'Severn',
  'Shannon',
  'Snake',
  'St. Lawrence',
  'Susquehanna',
  'Tagus',
  'Tennessee',
  'Thames',
  'Tiber',
  'Tigris',
  'Tisza',
  'Ural',
  'Uruguay',
  'Vistula',
  'Volga',
  'Yangtze',
  'Yellow River',
  'Yenisei',
  'Yukon',
  'Zambezi',
];

/** What one search returns. */
export interface SearchAnswer {
  readonly query: string;
  /** At most {@link MAX_MATCHES} rivers whose name contains the query. */
  readonly matches: readonly string[];
  /** How many rivers matched in all. */
  readonly total: number;
  /** How long the "server" took, ms. */
  readonly latencyMs: number;
}

export const MAX_MATCHES = 6;

export interface Backend {
  search(query: string): Promise<SearchAnswer>;
  /** Searches started and not yet answered. */
  readonly inFlight: number;
}

/** A backend answering each search after `minLatencyMs`–`maxLatencyMs`. */
export function createBackend({ minLatencyMs = 80, maxLatencyMs = 400, seed = 2024 } = {}): Backend {
  let state = seed >>> 0;
  // a small linear congruential generator: the same latencies on every load
  const random = (): number => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  let inFlight = 0;
  return {
    get inFlight() {
      return inFlight;
    },
    search(query) {
      const latencyMs = Math.round(minLatencyMs + random() * (maxLatencyMs - minLatencyMs));
      const needle = query.trim().toLowerCase();
      const all = needle === '' ? [] : RIVERS.filter((name) => name.toLowerCase().includes(needle));
      inFlight++;
      return new Promise((resolve) =>
        setTimeout(() => {
          inFlight--;
          resolve({ query, matches: all.slice(0, MAX_MATCHES), total: all.length, latencyMs });
        }, latencyMs),
      );
    },
  };
}
