import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { User } from '@ctp/contracts';

export interface SessionState {
  accessToken: string | null;
  user: User | null;
  /** The user's named permissions, from the server (e.g. `class.teach`); the web app never derives them from the role. */
  permissions: string[];
  /** Session restore on page load is still under way. */
  restoring: boolean;
  /** The live event stream is connected. */
  live: boolean;
}

const initialState: SessionState = { accessToken: null, user: null, permissions: [], restoring: true, live: false };

/** Who is signed in; the access token lives in memory only, the refresh token in an httpOnly cookie. */
export const sessionSlice = createSlice({
  name: 'session',
  initialState,
  reducers: {
    signedIn(state, action: PayloadAction<{ accessToken: string; user: User; permissions: string[] }>) {
      state.accessToken = action.payload.accessToken;
      state.user = action.payload.user;
      state.permissions = action.payload.permissions;
      state.restoring = false;
    },
    signedOut(state) {
      state.accessToken = null;
      state.user = null;
      state.permissions = [];
      state.restoring = false;
      state.live = false;
    },
    liveChanged(state, action: PayloadAction<boolean>) {
      state.live = action.payload;
    },
  },
});

export const { signedIn, signedOut, liveChanged } = sessionSlice.actions;
