import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { User } from '@ctp/contracts';

export interface SessionState {
  accessToken: string | null;
  user: User | null;
  /** Session restore on page load is still under way. */
  restoring: boolean;
  /** The live event stream is connected. */
  live: boolean;
}

const initialState: SessionState = { accessToken: null, user: null, restoring: true, live: false };

/** Who is signed in; the access token lives in memory only, the refresh token in an httpOnly cookie. */
export const sessionSlice = createSlice({
  name: 'session',
  initialState,
  reducers: {
    signedIn(state, action: PayloadAction<{ accessToken: string; user: User }>) {
      state.accessToken = action.payload.accessToken;
      state.user = action.payload.user;
      state.restoring = false;
    },
    signedOut(state) {
      state.accessToken = null;
      state.user = null;
      state.restoring = false;
      state.live = false;
    },
    liveChanged(state, action: PayloadAction<boolean>) {
      state.live = action.payload;
    },
  },
});

export const { signedIn, signedOut, liveChanged } = sessionSlice.actions;
