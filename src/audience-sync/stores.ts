import { splitObjectUri, type BlobStore } from '../storage';

/** Opens a store for a folder-like URI (gs://bucket/prefix/, file:///path/); deps decide the GCS endpoint and credentials. */
export type StoreOpener = (folderUri: string) => BlobStore;

/**
 * Stores by URI, opened once each: a run touches the workdir, the snapshot's folder and
 * the folders its manifests name, and a GCS store shares its client across calls.
 */
export class Stores {
  private readonly open = new Map<string, BlobStore>();
  constructor(private readonly opener: StoreOpener) {}

  folder(uri: string): BlobStore {
    let s = this.open.get(uri);
    if (!s) this.open.set(uri, (s = this.opener(uri)));
    return s;
  }

  object(uri: string): { store: BlobStore; key: string } {
    const { location, key } = splitObjectUri(uri);
    return { store: this.folder(location.uri), key };
  }
}
